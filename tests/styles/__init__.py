"""A zoo of hand-written numpy backprop in the styles of the books and courses people learn
from, written as they write it: each module is importable, exec'able into a module without a
``__file__``, and runnable as a notebook cell (see ``tests/test_styles.py``)."""
