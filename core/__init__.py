"""All ML and image logic of Transfer Learning Lab. Never imports gradio.

One module per capability (each `*_cli.py` is that capability's command-line twin):
  images         the one image loader (EXIF, modes, size limits, clear errors)
  imagenet       ImageNet class names and lookup by name or index
  hub            reaching the Hugging Face hub without ever hanging
  backbones      the selectable backbones, WeightKind, building a model with given weights
  weights        the one weights policy every tab and command asks (fallbacks, trained models)
  classify       top-k prediction, batched over many files
  datasets       class folders, zips and uploads read safely; stratified splits
  finetune       the four training modes, cached features, the epoch loop
  trained        trained models as .safetensors + JSON config (never pickle); per-session naming and eviction
  features       intermediate activations recorded in one pass (feature_views draws them)
  optvis/        optimising the input: parameterisation, transforms, objectives, render loop, pixels
  ideal, attack  the two sibling features built on optvis (neither imports the other)
  cli            `python app.py COMMAND ...`: the subcommand table (imports the *_cli modules)
  jsonl          emit(): one JSON line on stdout (what every *_cli prints with)
  cache, seeds, threads   an LRU cache, seeding every generator, torch thread limits
"""
