"""The live plate: the sampler thread, the pipeline from counts to events, recording sets, the front-panel link."""
