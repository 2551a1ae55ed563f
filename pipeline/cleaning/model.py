"""The shipped block classifier: boosted decision trees, evaluated with NumPy.

The trees are trained by LightGBM (`pipeline/cleaning/train.py`) and stored as plain arrays
(`block_model.npz` beside this file), so the workers need neither LightGBM nor its OpenMP
runtime, and the same page gets the same scores on every machine. Every tree of every class is
walked at once: one array step per level of depth, for all blocks and all trees together.

Classes: 0 boilerplate (menus, footers, share bars), 1 article, 2 teaser (other stories).
Two shapes of model: "multiclass" (one tree per class per round, a softmax over the three), and
"article_teaser", the shipped one: trees that score "article or not", and fewer trees that score
"teaser or boilerplate" for what is not article. It keeps a page with a third of the trees.
The page-kind model (`kind.py`) is a third shape, "binary": one score per row, whether the
page is not an article.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = Path(__file__).with_name("block_model.npz")
CLASSES = ("boilerplate", "article", "teaser")
KINDS = ("multiclass", "article_teaser", "binary")


@dataclass(frozen=True)
class BlockModel:
    """Trees stored as one table of nodes. A node with feature -1 is a leaf."""

    feature: np.ndarray  # int32 per node
    threshold: np.ndarray  # float64 per node (as LightGBM compares): go left when x <= threshold
    left: np.ndarray  # int32 per node: index of the left child
    right: np.ndarray  # int32 per node
    value: np.ndarray  # float32 per node: the leaf's output
    roots: np.ndarray  # int32 per tree
    tree_class: np.ndarray  # int32 per tree: the output it adds to (a class, or article / teaser)
    depth: int
    features: tuple[str, ...]
    meta: dict[str, object]
    kind: str = "multiclass"  # one of KINDS

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per block: a softmax of the summed tree outputs
        ("multiclass"), or P(article) and P(teaser | not article) as sigmoids ("article_teaser");
        for a "binary" model, one column: the probability of its one question."""
        n = x.shape[0]
        k = 1 if self.kind == "binary" else len(CLASSES)
        if n == 0:
            return np.zeros((0, k), dtype=np.float32)
        feature, threshold, children, by_class = self._walkable
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        offsets = (np.arange(n) * x.shape[1])[:, None]
        node = np.broadcast_to(self.roots, (n, self.roots.size))
        for _ in range(self.depth):  # `take`: NumPy's indexing by an array of indices costs more
            go_right = ~(flat.take(offsets + feature.take(node)) <= threshold.take(node))  # as LightGBM: NaN goes right
            node = children.take(node * 2 + go_right)
        raw = self.value.take(node).astype(np.float64) @ by_class
        if self.kind == "binary":
            probability: np.ndarray = (1.0 / (1.0 + np.exp(-raw))).astype(np.float32)
            return probability
        if self.kind == "article_teaser":
            article, teaser = (1.0 / (1.0 + np.exp(-raw[:, 0])), 1.0 / (1.0 + np.exp(-raw[:, 1])))
            rest = 1.0 - article
            return np.stack([rest * (1.0 - teaser), article, rest * teaser], axis=1).astype(np.float32)
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        shares: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return shares

    @functools.cached_property
    def _walkable(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The node table ready for a walk: leaves lead to themselves whatever the block
        (feature 0, threshold +inf), so a walk needs no test for leaves; each node's children
        side by side (left at 2i, right at 2i+1); and which class each tree scores, as a
        matrix that sums the trees' outputs per class."""
        leaf = self.feature < 0
        children = np.stack([self.left, self.right], axis=1).ravel()
        outputs = {"article_teaser": 2, "binary": 1}.get(self.kind, len(CLASSES))
        by_class = np.zeros((self.roots.size, outputs), dtype=np.float64)
        by_class[np.arange(self.roots.size), self.tree_class] = 1.0
        return np.where(leaf, 0, self.feature), np.where(leaf, np.inf, self.threshold), children, by_class

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            feature=self.feature,
            threshold=self.threshold,
            left=self.left,
            right=self.right,
            value=self.value,
            roots=self.roots,
            tree_class=self.tree_class,
            depth=np.int32(self.depth),
            features=np.array(json.dumps(list(self.features))),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
            kind=np.array(self.kind),
        )


def load_model(path: Path) -> BlockModel:
    with np.load(path, allow_pickle=False) as z:
        return BlockModel(
            feature=z["feature"],
            threshold=z["threshold"],
            left=z["left"],
            right=z["right"],
            value=z["value"],
            roots=z["roots"],
            tree_class=z["tree_class"],
            depth=int(z["depth"]),
            features=tuple(json.loads(str(z["features"]))),
            meta=json.loads(str(z["meta"])),
            kind=str(z["kind"]) if "kind" in z else "multiclass",
        )


def load_shipped(path: Path, features: list[str], computed_by: str, rebuild: str) -> BlockModel:
    """A model shipped in the package, refused when it was trained on other features than
    `computed_by` (a module's path) computes now; `rebuild` is the command that trains it."""
    model = load_model(path)
    if list(model.features) != features:
        raise RuntimeError(
            f"{path.name} was trained on other features than {computed_by} computes: rebuild it with `{rebuild}`"
        )
    return model


@functools.cache
def shipped_model() -> BlockModel:
    """The model in the package, read once per process."""
    from pipeline.cleaning.features import FEATURES

    return load_shipped(MODEL_FILE, FEATURES, "pipeline/cleaning/features.py", "python -m pipeline.cleaning.train")


def from_lightgbm(
    dump: dict[str, Any] | tuple[dict[str, Any], dict[str, Any]], features: list[str], meta: dict[str, object]
) -> BlockModel:
    """Convert LightGBM's `dump_model()` into node arrays: one multiclass booster's, one binary
    booster's, or the two binary boosters of an "article_teaser" model (article or not; teaser
    or boilerplate)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    roots: list[int] = []
    tree_class: list[int] = []
    max_depth = 0

    def add(node: dict[str, Any], depth: int) -> int:
        nonlocal max_depth
        max_depth = max(max_depth, depth)
        i = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(i)
        right.append(i)
        value.append(0.0)
        if "leaf_value" in node:
            value[i] = float(node["leaf_value"])
            return i
        if node.get("decision_type") != "<=":
            raise ValueError(f"unsupported split {node.get('decision_type')}")
        feature[i] = int(node["split_feature"])
        threshold[i] = float(node["threshold"])
        left[i] = add(node["left_child"], depth + 1)
        right[i] = add(node["right_child"], depth + 1)
        return i

    if isinstance(dump, tuple):
        kind = "article_teaser"
        for output, booster in enumerate(dump):
            if int(booster.get("num_tree_per_iteration", 1)) != 1:
                raise ValueError("an article_teaser model is made of two binary boosters")
            for tree in booster["tree_info"]:
                roots.append(add(tree["tree_structure"], 0))
                tree_class.append(output)
    else:
        k = int(dump.get("num_tree_per_iteration", 1))
        kind = "binary" if k == 1 and str(dump.get("objective", "")).startswith("binary") else "multiclass"
        for n, tree in enumerate(dump["tree_info"]):
            roots.append(add(tree["tree_structure"], 0))
            tree_class.append(n % k)
    return BlockModel(
        feature=np.array(feature, dtype=np.int32),
        threshold=np.array(threshold, dtype=np.float64),
        left=np.array(left, dtype=np.int32),
        right=np.array(right, dtype=np.int32),
        value=np.array(value, dtype=np.float32),
        roots=np.array(roots, dtype=np.int32),
        tree_class=np.array(tree_class, dtype=np.int32),
        depth=max_depth,
        features=tuple(features),
        meta=meta,
        kind=kind,
    )
