"""The regional study (an application of the engine): recipes naming the sources, their download, the French
loaders (INSEE Filosofi, Basilic, BPE, EPCI), venues from OSM tags, and the pipeline from sources to the report."""
