"""The hardware seam: load-cell sources (HX711, simulated plate, replay, mock) and the sampling kernel."""
