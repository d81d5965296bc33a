"""All ML and image logic of Transfer Learning Lab. Never imports gradio.

One module per capability:
  images     - the one image loader (EXIF, modes, size limits, clear errors)
  imagenet   - ImageNet class names and lookup by name or index
  backbones  - the selectable backbones and where their weights come from
  hub        - reaching the Hugging Face hub without ever hanging
  classify   - top-k prediction, batched over many files
  cli        - `python app.py SUBCOMMAND ...` printing JSON lines
"""
