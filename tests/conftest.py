import os

os.environ.setdefault("PAPERLIB_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
