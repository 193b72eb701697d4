"""The virtual fitting room's class-conditional garment GAN: data pipeline, nets, training, generation.

Submodules import TensorFlow lazily or only when used, so importing this package is cheap.
"""
