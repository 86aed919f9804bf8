"""`lumi`: the operator command line."""
