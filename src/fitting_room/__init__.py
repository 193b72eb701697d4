"""fitting-room: MLOps pipeline for a GAN virtual fitting room and an AI shopping guide."""

__version__ = "0.1.0"
