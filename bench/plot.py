"""The chat API against the plain DRF baseline, from the benchmark's results
files: a chart (docs/benchmarks-plain-drf.png) and the table between the
markers in docs/benchmarks.md. run_bench.py calls it after every run; run it
by hand to redraw from the files:

    .venv/bin/python bench/plot.py [bench/results-sqlite.json bench/results-postgres.json]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "docs" / "benchmarks-plain-drf.png"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- plain-drf-table:start -->", "<!-- plain-drf-table:end -->"
# Every results file of bench/ (bench/results-<db>.json, and any --out bench/results-<name>.json).
DEFAULT_FILES = sorted((ROOT / "bench").glob("results-*.json"))

# The six endpoints both apps have, in the order shown.
ENDPOINTS = [
    ("floor", "authenticated no-op (floor)"),  # the mean of its first and last runs
    ("page_first", "message page"),
    ("send", "send"),
    ("mark_read", "mark thread read"),
    ("thread_list", "thread list"),
    ("unread_count", "unread count"),
]
DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def floor_mean(first: dict, last: dict) -> dict:
    """The floor as the mean of its first and last runs (one run of a no-op swings a lot on a shared machine)."""

    def mean(a: dict, b: dict) -> dict:
        figures = {
            name: (a[name] + b[name]) / 2 for name in ("rps", "p50_ms", "server_cpu_ms") if name in a and name in b
        }
        return {**a, **figures}

    row = mean(first, last)
    for side in ("plain", "other_server"):
        if "rps" in (first.get(side) or {}) and "rps" in (last.get(side) or {}):
            row[side] = mean(first[side], last[side])
            if side == "plain":
                row["plain_share"] = row["rps"] / row["plain"]["rps"]
    row["floor_share"] = 1.0
    return row


def load(files: list[Path]) -> list[dict]:
    """One panel per database and scale that has the baseline's figures."""
    panels = []
    for file in files:
        if not file.exists():
            continue
        data = json.loads(file.read_text())
        for scale in data["scales"]:
            rows = {row["key"]: row for row in scale["results"]}
            if "rps" in rows.get("floor_end", {}):
                rows["floor"] = floor_mean(rows["floor"], rows["floor_end"])
            if not any("rps" in (row.get("plain") or {}) for row in rows.values()):
                continue
            panels.append(
                {
                    "db": data["db"],
                    "title": f"{DB_NAMES.get(data['db'], data['db'])}, {scale['messages']:,} messages",
                    "label": scale["label"],
                    "messages": scale["messages"],
                    "date": data["machine"]["date"],
                    "commit": data["machine"]["commit"],
                    "command": data["command"],
                    "server": scale["server"].split()[0],
                    "rounds": len(rows["floor"]["runs"]) if "floor" in rows else 0,
                    "rows": rows,
                }
            )
    # SQLite first, then PostgreSQL; the smaller scale first; one panel per database and scale.
    panels.sort(key=lambda panel: (panel["db"] != "sqlite", panel["messages"], panel["date"]))
    return list({(panel["db"], panel["messages"]): panel for panel in panels}.values())


def figure(panels: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    names = [name for _, name in ENDPOINTS]
    fig, axes = plt.subplots(3, len(panels), figsize=(max(9.0, 5.6 * len(panels)), 12), squeeze=False)
    width = 0.27
    for column, panel in enumerate(panels):
        ours = [panel["rows"].get(key, {}) for key, _ in ENDPOINTS]
        plain = [row.get("plain") or {} for row in ours]
        positions = range(len(ENDPOINTS))
        metrics = (
            ("rps", "requests/s (higher is better)"),
            ("p50_ms", "p50 latency, ms, log scale (lower is better)"),
            ("server_cpu_ms", "server CPU ms per request, log scale (lower is better)"),
        )
        for row_index, (metric, label) in enumerate(metrics):
            axis = axes[row_index][column]
            ours_values = [row.get(metric, 0) for row in ours]
            plain_values = [row.get(metric, 0) for row in plain]
            server = panel["server"]
            axis.barh([p - width for p in positions], ours_values, width, label=f"this API ({server})", color="#2b6cb0")
            axis.barh(list(positions), plain_values, width, label=f"plain DRF ({server})", color="#b0b0b0")
            other = [row.get("other_server") or {} for row in ours]
            if any(metric in row for row in other):
                other_server = next(row["server"] for row in other if "server" in row)
                axis.barh([p + width for p in positions], [row.get(metric, 0) for row in other], width,
                          label=f"this API ({other_server})", color="#90cdf4")  # fmt: skip
            if metric != "rps":
                axis.set_xscale("log")
                axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
                axis.xaxis.set_minor_formatter(ticker.NullFormatter())
            if metric == "rps":
                for position, row in zip(positions, ours, strict=True):
                    if row.get("plain_share"):
                        axis.annotate(f"{row['plain_share']:.2f}x", (row["rps"], position - width),
                                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)  # fmt: skip
            axis.set_yticks(list(positions), names if column == 0 else [""] * len(names), fontsize=9)
            axis.invert_yaxis()
            axis.set_xlabel(label)
            axis.grid(axis="x", alpha=0.3)
            if row_index == 0:
                rounds = f"{panel['rounds']} round{'s' if panel['rounds'] != 1 else ''}"
                axis.set_title(f"{panel['title']} ({panel['server']}, {rounds})", fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=9, bbox_to_anchor=(0.5, 0.945))
    servers = sorted({panel["server"] for panel in panels})
    fig.suptitle(
        f"This chat API against a plain Django + DRF app: same data, same server ({', '.join(servers)}, 2 workers),\n"
        "wrk 4 connections, medians over the rounds; labels: throughput x plain DRF on the same server",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def fmt(value, digits=2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(panels: list[dict]) -> str:
    """One table per database and scale: throughput and CPU per request, ours against the baseline's."""
    lines = []
    for panel in panels:
        lines += [
            f"#### {panel['title']}",
            "",
            "| Endpoint | req/s ours / plain | p50 ms ours / plain | server CPU ms/req ours / plain "
            "| **x plain DRF** (req/s) | x plain DRF (CPU) | x floor |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key, name in ENDPOINTS:
            row = panel["rows"].get(key) or {}
            plain = row.get("plain") or {}
            if "rps" not in row or "rps" not in plain:
                lines.append(f"| {name} |" + " - |" * 6)
                continue
            cpu_ratio = (
                plain["server_cpu_ms"] / row["server_cpu_ms"]
                if row.get("server_cpu_ms") and plain.get("server_cpu_ms")
                else None
            )
            lines.append(
                f"| {name} | {fmt(row['rps'], 0)} / {fmt(plain['rps'], 0)} "
                f"| {fmt(row['p50_ms'], 1)} / {fmt(plain['p50_ms'], 1)} "
                f"| {fmt(row.get('server_cpu_ms'))} / {fmt(plain.get('server_cpu_ms'))} "
                f"| **{fmt(row.get('plain_share'))}** | {fmt(cpu_ratio)} | {fmt(row.get('floor_share'))} |"
            )
        lines += [
            "",
            f"`{panel['command']}`, {panel['date']}, commit {panel['commit']}, {panel['server']}, "
            f"{panel['rounds']} round(s), medians.",
            "",
        ]
    lines.append(
        "x plain DRF (req/s): our requests/s over the baseline's; x plain DRF (CPU): the baseline's server CPU "
        "per request over ours (above 1: ours does less work per request); both measured back to back in each "
        "round. x floor: our requests/s over our own no-op's. The floor's figures are the means of its first and "
        "last runs."
    )
    return "\n".join(lines)


def update_doc(text: str, doc: Path = DOC) -> bool:
    content = doc.read_text()
    if START not in content or END not in content:
        return False
    before, rest = content.split(START, 1)
    _, after = rest.split(END, 1)
    doc.write_text(f"{before}{START}\n{text}\n{END}{after}")
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="results JSON files (default: bench/results-*.json; the newest per database and scale)")
    parser.add_argument("--chart", type=Path, default=CHART)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the table in docs/benchmarks.md")
    args = parser.parse_args(argv)
    panels = load(args.files or DEFAULT_FILES)
    if not panels:
        sys.exit("no results with the plain DRF baseline's figures")
    figure(panels, args.chart)
    print(f"wrote {args.chart}")
    text = table(panels)
    if not args.no_doc and update_doc(text):
        print(f"updated the table in {DOC}")
    else:
        print(text)


if __name__ == "__main__":
    main()
