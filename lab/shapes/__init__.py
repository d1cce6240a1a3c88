"""Load shapes for lab/locustfile.py, one a file: Locust runs the shape of the second file it
is given (`locust -f lab/locustfile.py,lab/shapes/ramp.py`). Each reads Locust's own `-u` (peak
users) and `-t` (run length, 60 s unless given) and the locustfile's custom arguments."""
