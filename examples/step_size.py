"""The step-size study on the blog's network: centred differences are O(h^2), one-sided O(h).

Same as `verifier sweep` (add `--png sweep.png` for the plot, with matplotlib installed).
"""

from verifier.frontends.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["sweep", "--network", "xor"]))
