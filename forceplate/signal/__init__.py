"""Signal processing: pure numpy functions, no I/O, no clock. Used live and by `forceplate analyze`."""
