"""All ML and image logic of Transfer Learning Lab. Never imports gradio.

One module per capability (each `*_cli.py` is that capability's command-line twin):
  images         the one image loader (EXIF, modes, size limits, clear errors)
  imagenet       ImageNet class names and lookup by name or index
  hub            reaching the Hugging Face hub without ever hanging
  backbones      the selectable backbones and where their weights come from
  classify       top-k prediction, batched over many files
  datasets       class folders, zips and uploads read safely; stratified splits
  finetune       the four training modes, cached features, the epoch loop
  trained        trained models as .safetensors + JSON config (never pickle)
  features       intermediate activations recorded in one pass (feature_views draws them)
  optvis/        optimising the input: parameterisation, transforms, objectives, render loop
  ideal, attack  the two features built on optvis
  cli            `python app.py COMMAND ...` printing JSON lines
"""
