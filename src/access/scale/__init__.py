"""Region-sized matrices: origin chunks sized by a memory budget, partitioned Parquet, resume
(:mod:`access.scale.chunked`), and the same chunks on a Dask cluster (:mod:`access.scale.distributed`)."""
