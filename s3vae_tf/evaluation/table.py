"""The paper's table layout for one run: Acc, IS, H(y|x), H(y) (protocol A), static accuracies (protocol B).

Rows are built once and rendered either as aligned text (the terminal) or as Markdown (the run's
``evaluation.md``); the run's values are ``mean ± std`` over the sampling repeats. Two reference rows
come first: the judge on the real test clips, and on the run's reconstructions of them (a protocol
cannot do better than the decoder draws). A generator without an encoder (MoCoGAN) has protocol A only, without
the reconstructions' row; what does not apply to it is said in ``result["not_applicable"]``.
"""

from __future__ import annotations

import math
from typing import Mapping

COLUMNS = (("acc", "Acc"), ("is", "IS"), ("h_yx", "H(y|x)"), ("h_y", "H(y)"))


def _value(metric: str, mean: float, std: float | None = None) -> str:
    if metric == "acc":
        text = f"{100 * mean:.2f}"
        return f"{text} ± {100 * std:.2f}%" if std is not None else f"{text}%"
    text = f"{mean:.3f}"
    return f"{text} ± {std:.3f}" if std is not None else text


def _summary(metrics: Mapping, metric: str) -> str:
    entry = metrics[metric]
    return _value(metric, entry["mean"], entry["std"])


def tables(result: Mapping, method: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows) of each table: one per dynamic head for protocol A, one for protocol B."""
    heads = {h["name"]: h for h in result["judge"]["heads"]}
    out = []
    for name, metrics in result["a"].items():
        classes = heads[name]["classes"]
        caption = (
            f"Protocol A (the paper's Table 1): motion of each test clip kept, z_f drawn from N(0, I); "
            f"judged label: {name} ({classes} classes; IS <= {classes}, H(y|x), H(y) <= ln {classes} = {math.log(classes):.3f})"
        )
        if "reconstruction" not in result:  # a generator: the category is conditioned, not kept from a clip
            caption = (f"Protocol A for a generator: each test clip's {name} as the conditioned category, motion noise kept, "
                       f"content drawn from N(0, I); judged label: {name} ({classes} classes; IS <= {classes}, "
                       f"H(y|x), H(y) <= ln {classes} = {math.log(classes):.3f})")
        real = result["real"][name]
        rows = [["real test clips (judge)", *(_value(m, real[m]) for m, _ in COLUMNS)]]
        if "reconstruction" in result:
            recon = result["reconstruction"][name]
            rows.append(["reconstructions (this run)", *(_value(m, recon[m]) for m, _ in COLUMNS)])
        rows.append([method, *(_summary(metrics, m) for m, _ in COLUMNS)])
        out.append((caption, ["Method", *(title for _, title in COLUMNS)], rows))
    if result["b"]:
        names = list(result["b"])
        caption = "Protocol B: appearance of each test clip kept, z_1:T the learned prior's means along a sampled path; accuracy of the static labels"
        rows = [
            ["real test clips (judge)", *(_value("acc", result["real"][n]["acc"]) for n in names)],
            ["reconstructions (this run)", *(_value("acc", result["reconstruction"][n]["acc"]) for n in names)],
            [method, *(_summary(result["b"][n], "acc") for n in names)],
        ]
        header = ["Method", *names]
        if "b_all" in result:  # every static label of a clip at once
            header.append("all")
            for row in rows[:2]:
                row.append("—")
            rows[2].append(_summary(result["b_all"], "acc"))
        out.append((caption, header, rows))
    if result.get("swap"):
        swap = result["swap"]
        caption = (f"Swap accuracy: a's motion with b's appearance, {swap['pairs']} pairs of test clips of other characters "
                   "and motions; motion = every dynamic label a's, appearance = every static label b's")
        names = list(swap["heads"])
        rows = [[method, *(_value("acc", swap[k]) for k in ("motion", "appearance", "both")), *(_value("acc", swap["heads"][n]) for n in names)]]
        out.append((caption, ["Method", "motion", "appearance", "both", *names], rows))
    return out


def _text_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def as_text(result: Mapping, method: str) -> str:
    blocks = []
    for caption, header, rows in tables(result, method):
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [_text_row(header, widths), "  ".join("-" * w for w in widths), *(_text_row(r, widths) for r in rows)]
        blocks.append("\n".join([caption, *lines]))
    return "\n\n".join(blocks)


def as_markdown(result: Mapping, method: str) -> str:
    blocks = []
    for caption, header, rows in tables(result, method):
        lines = [_markdown_row(header), "|" + "---|" * len(header), *map(_markdown_row, rows)]
        blocks.append("\n".join([caption + ":", "", *lines]))
    return "\n\n".join(blocks)
