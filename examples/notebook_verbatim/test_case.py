"""Write the notebook's test case (``gradient_check_n_test_case``) to test_case.npz, as
``np.savez(x=, y=, **parameters)``: the file ``verifier check --data`` reads."""

from pathlib import Path

import numpy as np

from verifier.frontends import published as seeds

if __name__ == "__main__":
    x, y, parameters = seeds.notebook_test_case()
    out = Path(__file__).with_name("test_case.npz")
    np.savez(out, x=x, y=y, **parameters)
    print(f"wrote {out}")
