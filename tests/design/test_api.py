"""The public API of infantall.design is explicit and importable."""

from __future__ import annotations

import infantall.design
import infantall.design.adaptive


def test_public_names_exist_once() -> None:
    for module in (infantall.design, infantall.design.adaptive):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name
