"""Lesson notes: one short, collapsible panel per tab, for a teacher projecting the app.

ALL note texts live in NOTES below (markdown), so the Dutch translation has one place to go.
Each tab calls `lesson_notes("<tab key>")` once, where the panel should appear.
"""
from __future__ import annotations

import gradio as gr

PANEL_TITLE = "Lesson notes (for the teacher)"

NOTES = {
    "classify": """
**What happens.** The photo is scaled and centre-cropped to 224 × 224 pixels (*what the model sees*), passes
through the dozens of layers of a network trained on 1.2 million ImageNet photos, and comes out as 1000 probabilities.

**Try.**
1. Click the cat example, then switch *Weights* to **random**: same network, same photo, meaningless answer.
   Everything the network knows is in its weights, and the weights come from training.
2. Under **Where does it look?**, pick another class from the top-5: the heat shows the part of the photo
   that speaks for that class (Grad-CAM: the last layer's 7 × 7 activations, weighted by how much each raises
   that class's score).

**Notice.** The top-5 are often all plausible (tabby, tiger cat, Egyptian cat). A photo of something that is not
one of the 1000 classes still gets an answer: the model can only choose among what it was taught.
""",
    "finetune": """
**What happens.** *Frozen* mode keeps the pretrained network as it is and trains only a new last layer on your
photos: one number per feature per class. *From scratch* trains the same network from random weights.

**Try.**
1. Train **frozen** on 5 photos per class, then **from scratch** on the same photos (keep both on the plot).
   Pretrained: right answers after a few epochs. Scratch: near chance (50 % for two classes), however long it trains.
2. Click a misclassified photo: its heat map shows where the trained model looked ("it said dog because it looked
   here"). Often the background, or a second animal.
3. Open the **feature-space map**: pretrained features already put cats with cats and dogs with dogs, so a
   straight line (the new layer) can separate them. Random features are one mixed cloud.

**The challenge: images unlike ImageNet.** Try drawings, X-rays, or photos of handwritten text. The features
were learned on photos of objects, so they fit less well: the frozen curve rises more slowly and stops lower,
the map mixes the classes more, and training the top blocks (or everything) helps more than it does for pets.
The gap between pretrained and scratch shrinks, but with only a handful of images pretrained still wins.
""",
    "features": """
**What happens.** Each tile is one channel of one layer: how strongly one learned pattern is present at each place
of the photo. Early layers respond to edges and colours, middle layers to textures and parts, late layers to
whole objects, on a coarser grid (7 × 7 at the end).

**Try.** Compare an early and a late layer of the same photo; then switch to random weights: the early maps still
look like the photo (a blur of it), the late ones become noise.

**Notice.** The last layer's 7 × 7 grid is what the heat maps in Classify are made from: that is why they are blurry.
""",
    "optimize": """
**What happens.** Gradient descent on the *input*: the network stays fixed and the pixels change.

**Ideal image.** Starting from noise, the pixels move to raise one class's score. In **pixel** mode the result looks
like noise with a hint of texture: very many inputs excite a class, and most of them look like nothing to us. The
**variation loss** (total variation) punishes neighbouring pixels that differ, and structure appears.

**Adversarial image.** A photo changed by at most 2 of 255 brightness levels per pixel (invisible) is classified as
another class. Compare the heat maps before and after: the photo looks the same, yet the evidence has moved
(the overlap figure says how much). The new class is nowhere in the photo: a pattern too faint to see, spread over
every pixel, adds up in the score. The network does not see the way we do.
""",
}


def lesson_notes(tab: str, open: bool = False) -> gr.Accordion:  # noqa: A002 - gradio's own name
    """The collapsible notes panel for `tab` (a key of NOTES), created where it is called."""
    with gr.Accordion(PANEL_TITLE, open=open, elem_id=f"notes-{tab}", elem_classes=["tll-notes"]) as panel:
        gr.Markdown(NOTES[tab].strip())
    return panel
