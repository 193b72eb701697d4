"""The try-on view: a figure from measurements wearing a generated garment, size by size (docs/tryon.md)."""
