"""Data validation gates (Great Expectations): ingested images and shopper transactions.

Stage functions: :func:`fitting_room.validation.images.validate_images` and
:func:`fitting_room.validation.shoppers.validate_shoppers`. Nothing is imported here so
that importing the package stays cheap; GX is imported only when a suite runs.
"""
