"""The Fine-tune tab's choices and limits, without torch: training modes, epochs, and how accuracy is
estimated on small classes. core.finetune and core.fewshot (which need torch) use and re-export
these, so `finetune.FROZEN` and `training_settings.FROZEN` are the same object; the page is built
from this module alone (issue 14: the page is served before torch is imported)."""
from __future__ import annotations

# --- core.finetune: modes and epochs ---------------------------------------------------
FROZEN, TOP, FULL, SCRATCH = "frozen", "top", "full", "scratch"
MODES = (FROZEN, TOP, FULL, SCRATCH)
MODE_TITLES = {
    FROZEN: "frozen (feature extractor: only a new head trains)",
    TOP: "top blocks (the last blocks train too, at a lower learning rate)",
    FULL: "full fine-tune (every weight trains; slow on a CPU)",
    SCRATCH: "from scratch (same network, random weights)",
}
DEFAULT_EPOCHS = {FROZEN: 40, TOP: 6, FULL: 6, SCRATCH: 6}
MAX_EPOCHS = 200

# --- core.fewshot: how accuracy is estimated on small classes ---------------------------------
# A class with fewer photos than this gets no validation split in frozen mode: the model trains on
# every photo and its accuracy is estimated by cross-validation on the cached features instead.
SMALL_CLASS = 20
# Up to this many photos in all, cross-validation leaves one photo out at a time (nearly unbiased:
# each fold trains on all but one photo); above it, stratified K_FOLDS-fold.
LEAVE_ONE_OUT_MAX = 80
K_FOLDS = 5

VALIDATION = "validation split"
LEAVE_ONE_OUT = "leave-one-out cross-validation"
K_FOLD = f"{K_FOLDS}-fold cross-validation"
NOT_ESTIMATED = "none"

# What each estimate means, for the results text (the Fine-tune tab and the CLI's "estimate").
ESTIMATE_TEXT = {
    VALIDATION: "measured on {n} held-out validation photos",
    LEAVE_ONE_OUT: "estimated by leave-one-out cross-validation: each of the {n} photos is predicted by a model "
                   "trained on all the others; the final model trains on all {n}",
    K_FOLD: f"estimated by {K_FOLDS}-fold cross-validation: each of the {{n}} photos is predicted by a model "
            f"that did not see it; the final model trains on all {{n}}",
    NOT_ESTIMATED: "not estimated: with one photo in a class there is nothing left to test on. "
                   "The model trains on all {n} photos; try it on new photos in the Classify tab",
}
