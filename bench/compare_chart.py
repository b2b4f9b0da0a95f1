#!/usr/bin/python3
"""compare_chart.py CSV PNG: the chart of compare.csv's main figures (one panel per figure, one bar
per client, the same colour for a client in every panel). Needs matplotlib: run it with Debian's
/usr/bin/python3 after `apt-get install -y python3-matplotlib` (bench/compare.sh does both)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [  # (workload in the CSV, title, raw counterpart)
    ("ior-read", "IOR read, MiB/s", "raw-get"),
    ("ior-write", "IOR write, MiB/s", "raw-put"),
    ("dd", "dd bs=1M buffered, MiB/s", "raw-get"),
    ("randread", "4 KiB random reads, ops/s", None),
    ("small-write", "256 KiB files written, files/s", None),
    ("small-read", "256 KiB files read, files/s", None),
    ("ls", "ls -l, seconds (lower is better)", None),
    ("ttfb", "time to first byte, ms (lower is better)", "ttfb"),
]
CLIENTS = ["raw", "s3mount", "s3fs", "rclone-off", "rclone-writes"]
COLORS = {"raw": "#999999", "s3mount": "#1f77b4", "s3fs": "#ff7f0e", "rclone-off": "#2ca02c",
          "rclone-writes": "#98df8a"}


def main(src, dst):
    rows = {}
    for r in csv.DictReader(open(src)):
        try:
            rows[(r["client"], r["workload"])] = float(r["value"])
        except (ValueError, TypeError):
            rows[(r["client"], r["workload"])] = None
    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5))
    for ax, (wl, title, raw) in zip(axes.flat, PANELS):
        names, vals = [], []
        for c in CLIENTS:
            key = (c, raw if c == "raw" else wl)
            if c == "raw" and not raw or key not in rows:
                continue
            names.append(c)
            vals.append(rows[key])
        bars = ax.bar(range(len(names)), [v or 0 for v in vals], color=[COLORS[n] for n in names])
        for b, v in zip(bars, vals):
            ax.annotate("fail" if v is None else f"{v:,.0f}" if v >= 10 else f"{v:.2f}",
                        (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.suptitle("s3mount vs s3fs vs rclone on Ceph RGW (loopback), medians; raw = curl --parallel")
    fig.tight_layout()
    fig.savefig(dst, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
