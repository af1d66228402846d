"""Cheap per-frame labels for the self-supervision (optical-flow grid, face landmarks) and motion classes."""
