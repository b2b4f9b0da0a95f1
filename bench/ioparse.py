#!/usr/bin/env python3
"""ioparse.py: the one parser of what the benchmark jobs print — IOR's report, fio's, and the
`#SBATCH` header of a job script — shared by bench/slurm/ior.sbatch, bench/slurm/scale.sh and the
tests (bench/ioparse_test.py runs it on outputs captured from real runs in bench/testdata/).
Standard library only: it runs on compute nodes with any python3.

  ioparse.py ior FILE|-                  IOR's header, results and summary as JSON
  ioparse.py ior-results FILE|- [--bytes N]   one RESULT line per phase (ior.sbatch's format)
  ioparse.py fio FILE|-                  fio's per-job and group lines as JSON
  ioparse.py fio-task FILE|-             "BW=…MiB/s io=…KiB" of fio's first job (ior.sbatch's task lines)
  ioparse.py sbatch-header SCRIPT        the script's #SBATCH options as JSON
  ioparse.py sbatch-output SCRIPT --node N --job-id J [--task T] [--user U]
                                         the file name Slurm gives the job's output
Exit status 1 with a one-line error when the input lacks what is asked for (e.g. an IOR run that
ended before its summary).
"""
import argparse
import json
import re
import sys

MIB = 1 << 20
# IOR's size units ("4 MiB", "2000 MiB", "1.95 GiB") and fio's ("4096KiB", "1.5GiB", "512MiB").
UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
         "kB": 10 ** 3, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12}


class ParseError(Exception):
    pass


def size_bytes(text):
    """'4 MiB' / '4096KiB' / '2000m' (IOR's and Slurm's k/m/g are powers of 1024) -> bytes."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?B|[kKMGT]B|B|[kmgtKMGT])?\s*", text)
    if not m:
        raise ParseError(f"not a size: {text!r}")
    unit = m.group(2) or ""
    if len(unit) == 1 and unit != "B":
        mult = 1 << (10 * "kmgt".index(unit.lower()) + 10)
    else:
        mult = UNITS[unit]
    return int(float(m.group(1)) * mult)


# ---- IOR -------------------------------------------------------------------------------------
# Header lines "key : value" (IOR pads the key); the ones a report needs.
IOR_HEADER_KEYS = {
    "Command line": "command", "Machine": "machine", "Began": "began", "Finished": "finished",
    "Path": "path", "Participating tasks": "participating_tasks", "api": "api",
    "access": "access", "nodes": "nodes", "tasks": "tasks", "clients per node": "clients_per_node",
    "repetitions": "repetitions", "xfersize": "xfersize", "blocksize": "blocksize",
    "aggregate filesize": "aggregate_filesize", "segments": "segments",
}
INT_KEYS = {"participating_tasks", "nodes", "tasks", "clients_per_node", "repetitions", "segments"}
SIZE_KEYS = {"xfersize", "blocksize", "aggregate_filesize"}
RESULT_COLS = ["access", "bw_mib", "iops", "latency_s", "block_kib", "xfer_kib", "open_s",
               "wrrd_s", "close_s", "total_s", "iter"]


def _num(text):
    return None if text in ("-", "NA") else float(text)


def parse_ior(text):
    """IOR's report -> dict: header fields, `results` rows, `max` {write, read} in MiB/s, and
    `summary` {operation: row} from "Summary of all tests:". Raises ParseError when IOR did not
    get as far as its summary (the run failed or was cut short)."""
    out = {"results": [], "summary": {}, "max": {}, "errors": []}
    lines = text.splitlines()
    in_results = False
    summary_cols = None
    for line in lines:
        s = line.strip()
        if re.match(r"^(ior ERROR|ERROR|Error)\b", s) or "ior ERROR" in s:
            out["errors"].append(s)
        m = re.match(r"^Max (Write|Read):\s+([0-9.]+) MiB/sec", s)
        if m:
            out["max"][m.group(1).lower()] = float(m.group(2))
            continue
        if s.startswith("Summary of all tests:"):
            in_results = False
            summary_cols = []
            continue
        if summary_cols == [] and s.startswith("Operation"):
            # "StdDev" follows both the MiB and the OPs columns: name each after its group.
            summary_cols, group = [], "MiB"
            for c in s.split():
                if c.endswith("(OPs)"):
                    group = "OPs"
                summary_cols.append(f"StdDev({group})" if c == "StdDev" else c)
            continue
        if summary_cols:
            f = s.split()
            if f and f[0] in ("write", "read") and len(f) == len(summary_cols):
                row = dict(zip(summary_cols, f))
                out["summary"][f[0]] = row
                continue
        if s.startswith("Results:"):
            in_results = True
            continue
        if in_results:
            f = s.split()
            if f and f[0] in ("write", "read") and len(f) == len(RESULT_COLS):
                row = dict(zip(RESULT_COLS, f))
                for k in RESULT_COLS[1:]:
                    row[k] = _num(row[k])
                row["iter"] = int(row["iter"])
                out["results"].append(row)
            continue
        m = re.match(r"^([A-Za-z][A-Za-z /]*?)\s*:\s?(.*)$", line)
        if m and m.group(1).strip() in IOR_HEADER_KEYS and IOR_HEADER_KEYS[m.group(1).strip()] not in out:
            key = IOR_HEADER_KEYS[m.group(1).strip()]
            val = m.group(2).strip()
            if key in INT_KEYS:
                val = int(val)
            elif key in SIZE_KEYS:
                val = size_bytes(val)
            out[key] = val
    if not out["summary"]:
        why = f": {out['errors'][0]}" if out["errors"] else ""
        raise ParseError(f"no 'Summary of all tests' table in IOR's output (the run did not finish){why}")
    # The summary's numeric columns, as numbers.
    for row in out["summary"].values():
        for k, v in list(row.items()):
            if k not in ("Operation", "API"):
                try:
                    row[k] = float(v) if "." in v else int(v)
                except ValueError:
                    pass
    return out


def ior_phase_rates(rep):
    """{phase: MiB/s}: the Max line where IOR printed one, else the summary's Max(MiB)."""
    rates = {}
    for phase in ("write", "read"):
        if phase in rep["max"]:
            rates[phase] = rep["max"][phase]
        elif phase in rep["summary"]:
            rates[phase] = float(rep["summary"][phase]["Max(MiB)"])
    return rates


def ior_result_lines(rep, total_bytes=None):
    """ior.sbatch's RESULT lines: the summary's Mean(MiB) per phase, tasks and nodes from IOR."""
    lines = []
    for phase in ("write", "read"):
        row = rep["summary"].get(phase)
        if not row:
            continue
        # Exact bytes from the summary row (the header's "aggregate filesize" is rounded, "3.12 GiB").
        nbytes = total_bytes if total_bytes is not None else row["#Tasks"] * row["blksiz"] * row["segcnt"]
        lines.append(f"RESULT phase={phase} MiB/s={row['Mean(MiB)']} tasks={rep.get('tasks', row['#Tasks'])} "
                     f"nodes={rep.get('nodes', 0)} tool=ior bytes={nbytes}")
    return lines


# ---- fio -------------------------------------------------------------------------------------
FIO_JOB = re.compile(r"^\s*(read|write)\s*:\s*IOPS=([0-9.kKM]+),\s*BW=([0-9.]+)([KMGT]i?B)/s.*?"
                     r"\(([0-9.]+[KMGT]?i?B)/([0-9]+)msec\)")
FIO_GROUP = re.compile(r"^\s*(READ|WRITE):\s*bw=([0-9.]+)([KMGT]i?B)/s.*?io=([0-9.]+[KMGT]?i?B)"
                       r".*?run=([0-9]+)-([0-9]+)msec")


def parse_fio(text):
    """fio's normal output -> {"jobs": [{op, bw_mib, io_bytes, runtime_ms}], "groups": [...]}.
    Raises ParseError when there is neither a job line nor a group line (fio failed)."""
    jobs, groups = [], []
    for line in text.splitlines():
        m = FIO_JOB.match(line)
        if m:
            jobs.append({"op": m.group(1), "bw_mib": float(m.group(3)) * UNITS[m.group(4)] / MIB,
                         "io_bytes": size_bytes(m.group(5)), "runtime_ms": int(m.group(6))})
            continue
        m = FIO_GROUP.match(line)
        if m:
            groups.append({"op": m.group(1).lower(), "bw_mib": float(m.group(2)) * UNITS[m.group(3)] / MIB,
                           "io_bytes": size_bytes(m.group(4)), "runtime_ms": int(m.group(6))})
    if not jobs and not groups:
        raise ParseError("no fio result line (\"read: IOPS=…, BW=…\" or \"READ: bw=…\")")
    return {"jobs": jobs, "groups": groups}


# ---- Slurm job scripts -----------------------------------------------------------------------
def sbatch_header(text):
    """The #SBATCH options of a job script, as sbatch reads them: only the lines before the first
    command, long options ("--ntasks-per-node=8" or "--ntasks-per-node 8"), short ones
    ("-N 2", "-o x.out"). -> {option: value} with long option names (without "--")."""
    short = {"J": "job-name", "o": "output", "e": "error", "n": "ntasks", "N": "nodes",
             "p": "partition", "t": "time", "D": "chdir", "c": "cpus-per-task"}
    opts = {}
    for n, line in enumerate(text.splitlines()):
        s = line.strip()
        if n == 0 and s.startswith("#!"):
            continue
        if not s or (s.startswith("#") and not s.startswith("#SBATCH")):
            continue
        if not s.startswith("#SBATCH"):
            break  # sbatch stops reading options at the first command
        words = s[len("#SBATCH"):].split("#", 1)[0].split()
        if not words:
            continue
        w = words[0]
        if w.startswith("--"):
            name, eq, val = w[2:].partition("=")
            opts[name] = val if eq else (words[1] if len(words) > 1 else "")
        elif w.startswith("-") and len(w) >= 2:
            val = w[2:] or (words[1] if len(words) > 1 else "")
            opts[short.get(w[1], w[1])] = val
    return opts


def expand_output_pattern(pattern, node, job_id, job_name, task=0, user="root", array_job=None):
    """Slurm's filename pattern (%N %x %j %t %u %% and %A/%a for arrays, zero padding as
    %4j) -> the file name of a batch job's output. %t is 0 for the batch step."""
    values = {"N": node, "x": job_name, "j": str(job_id), "t": str(task), "u": user,
              "A": str(array_job if array_job is not None else job_id), "a": "4294967294",
              "n": "0", "s": "batch"}

    def sub(m):
        if m.group(0) == "%%":
            return "%"
        width, key = m.group(1), m.group(2)
        v = values.get(key)
        if v is None:
            raise ParseError(f"unsupported Slurm filename pattern %{key} in {pattern!r}")
        return v.zfill(int(width)) if width and v.isdigit() else v

    return re.sub(r"%%|%([0-9]?)([A-Za-z])", sub, pattern)


def _read(path):
    return sys.stdin.read() if path == "-" else open(path, encoding="utf-8", errors="replace").read()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("ior", "ior-results", "fio", "fio-task", "sbatch-header"):
        p = sub.add_parser(name)
        p.add_argument("file")
        if name == "ior-results":
            p.add_argument("--bytes", type=int, help="total bytes of the run (default: IOR's aggregate filesize)")
    p = sub.add_parser("sbatch-output")
    p.add_argument("file")
    p.add_argument("--node", required=True)
    p.add_argument("--job-id", required=True)
    p.add_argument("--task", default="0")
    p.add_argument("--user", default="root")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "ior":
            print(json.dumps(parse_ior(_read(args.file)), indent=1))
        elif args.cmd == "ior-results":
            print("\n".join(ior_result_lines(parse_ior(_read(args.file)), args.bytes)))
        elif args.cmd == "fio":
            print(json.dumps(parse_fio(_read(args.file)), indent=1))
        elif args.cmd == "fio-task":
            job = parse_fio(_read(args.file))["jobs"]
            if not job:
                raise ParseError("no per-job fio line")
            # In KiB, as fio writes it ("io=4096KiB"): numfmt --from=iec-i reads it back.
            print(f"BW={job[0]['bw_mib']:.1f}MiB/s io={job[0]['io_bytes'] / 1024:.0f}KiB")
        elif args.cmd == "sbatch-header":
            print(json.dumps(sbatch_header(_read(args.file)), indent=1))
        elif args.cmd == "sbatch-output":
            h = sbatch_header(_read(args.file))
            if "output" not in h:
                raise ParseError(f"{args.file} has no #SBATCH --output line")
            print(expand_output_pattern(h["output"], args.node, args.job_id, h.get("job-name", "sbatch"),
                                        args.task, args.user))
    except (ParseError, OSError) as e:
        print(f"ioparse.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
