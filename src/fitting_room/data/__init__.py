"""Data ingestion: raw sources (Fashion-MNIST IDX, retailer catalogs, Clothing-Fit JSON lines)
into the typed artifacts every later stage reads (``data/images/*.npz``, ``data/shoppers/*.parquet``).

Start at :mod:`fitting_room.data.ingest`, which holds the two stage functions.
"""
