#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py RESULTS_DIR: turn the raw results of "make bench" into
results.json, results.csv, table.md and plots (gnuplot).

Input, written by scripts/bench/run.sh and guest.sh:
  host.txt, env-<kernel>.txt   key=value lines
  raw-<kernel>.txt             "RESULT key=value ..." / "ERROR ..." lines
  fio-<contender>-<rep>.json   fio's own JSON output (scenario 7)

Every figure in the table is the median over the repetitions, with the
minimum and maximum in brackets when there was more than one value.
Python standard library only.
"""
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

CONTENDERS = ["stock", "pt_share", "pt_share+idle", "shmem-thp", "hugetlb",
              "unpatched"]
KB_PER_TABLE = 4


def read_kv(path):
    d = {}
    if not os.path.exists(path):
        return d
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                d[k.strip()] = v
    return d


def num(v):
    try:
        x = float(v)
    except ValueError:
        return v
    if math.isnan(x):
        return None
    return int(x) if x == int(x) and "." not in v else x


def read_raw(path, kernel):
    results, errors = [], []
    if not os.path.exists(path):
        return results, errors
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if words[0] == "ERROR":
                errors.append(kernel + ": " + " ".join(words[1:]))
                continue
            if words[0] != "RESULT":
                continue
            r = {"kernel": kernel}
            for w in words[1:]:
                if "=" in w:
                    k, v = w.split("=", 1)
                    r[k] = num(v)
            results.append(r)
    return results, errors


def fmt(x):
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


class Cell:
    def __init__(self, values):
        self.values = [v for v in values if isinstance(v, (int, float))]

    def __bool__(self):
        return bool(self.values)

    @property
    def median(self):
        return statistics.median(self.values)

    def text(self):
        if not self.values:
            return "–"
        m = fmt(self.median)
        if len(self.values) > 1 and min(self.values) != max(self.values):
            m += f" ({fmt(min(self.values))}–{fmt(max(self.values))})"
        return m

    def as_dict(self):
        if not self.values:
            return None
        return {"median": self.median, "min": min(self.values),
                "max": max(self.values), "n": len(self.values),
                "values": self.values}


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "results/bench-latest"
    host = read_kv(os.path.join(d, "host.txt"))
    # run.sh boots each kernel twice: scenario 5 under -icount.
    tags = ("release", "stock", "release-icount", "stock-icount")
    envs = {k: read_kv(os.path.join(d, f"env-{k}.txt")) for k in tags}
    rows, errors = [], []
    for k in tags:
        r, e = read_raw(os.path.join(d, f"raw-{k}.txt"), k.split("-")[0])
        rows += r
        errors += e
    env = envs["release"] or envs["stock"] or envs["release-icount"]
    env5 = envs["release-icount"] or envs["stock-icount"] or env
    if env5.get("icount") == "1":
        unit5 = "per 10^9 guest instructions: -icount"
    else:
        unit5 = "emulated"
    size_mb = int(env.get("size_mb", "1024"))
    warnings = []

    def sel(**kw):
        return [r for r in rows
                if all(r.get(k) == v for k, v in kw.items())]

    def vals(metric, **kw):
        return [r.get(metric) for r in sel(**kw)]

    # ---- figures per (row, contender) ------------------------------------
    table = []      # (scenario, label, {contender: Cell}, note, lower_is_better)

    flagged = set()     # (contender, n) whose sharing check failed

    def add(scen, label, per, note="", lower=True):
        if any(per.values()):
            table.append((scen, label, per, note, lower))

    tables_per_set = math.ceil(size_mb / 2)
    # New PMD tables a process needs at least: a mapping under 1 GiB can
    # fall inside a PMD table the process already has (its libraries').
    pmds = size_mb // 1024
    # With PMD tables shared (whole GiBs mapped on a kernel whose
    # pt_share_pmd_attach moved), one PMD table per GiB serves all N.
    pmd_level = pmds > 0 and any(
        (r.get("pmd_attach") or 0) > 0
        for r in sel(scenario="s1", contender="pt_share"))

    def floor_kb(n):
        if pmd_level:
            return (tables_per_set + pmds) * KB_PER_TABLE
        return tables_per_set * KB_PER_TABLE + n * pmds * KB_PER_TABLE

    ns = sorted({r["n"] for r in sel(scenario="s1")})
    base = {n: Cell(vals("pt_growth_kb", scenario="s1",
                         contender="baseline", n=n)) for n in ns}
    s1 = {}         # (contender, n) -> attributable Cell
    for n in ns:
        per = {}
        for c in CONTENDERS:
            g = vals("pt_growth_kb", scenario="s1", contender=c, n=n)
            b = base[n].median if base[n] else 0
            per[c] = Cell([v - b for v in g if v is not None])
            s1[(c, n)] = per[c]
        add("1. page-table memory",
            f"PageTables attributable to the mapping, N={n} (kB); floor "
            f"{floor_kb(n)}", per, note=("attrib", n))
    for n in ns:
        add("1. page-table memory", f"VmPTE of one process, N={n} (kB)",
            {c: Cell(vals("vmpte_kb", scenario="s1", contender=c, n=n))
             for c in CONTENDERS})
    for n in ns:
        add("1. page-table memory",
            f"N-th process: minor faults of its full read, N={n}",
            {c: Cell(vals("last_minflt", scenario="s1", contender=c, n=n))
             for c in CONTENDERS})
    for n in ns:
        add("1. page-table memory",
            f"setup of all N processes, N={n} (ms, emulated)",
            {c: Cell(vals("setup_ms", scenario="s1", contender=c, n=n))
             for c in CONTENDERS})

    # Sharing must really have happened where the contender promises it.
    for n in ns:
        for r in sel(scenario="s1", contender="pt_share", n=n):
            # At the PMD level each PTE table is attached once, into the
            # shared PMD table, and each process attaches once per GiB.
            want = tables_per_set if pmd_level else n * tables_per_set
            att = r.get("attach", -1)
            patt = r.get("pmd_attach")
            if pmd_level and (patt is None or patt < n * pmds):
                flagged.add(("pt_share", n))
                warnings.append(
                    f"s1 pt_share N={n} rep {r.get('rep')}: "
                    f"pt_share_pmd_attach moved by {patt}, expected {n * pmds}"
                    " (N x GiBs): PMD tables were NOT shared by every "
                    "process")
            attrib = r["pt_growth_kb"] - (base[n].median if base[n] else 0)
            limit = 2 * floor_kb(n) + 256
            if att is None or att < 0:
                warnings.append(f"s1 pt_share N={n} rep {r.get('rep')}: "
                                "this kernel has no pt_share counters")
            elif att < 0.9 * want - 4 * n:
                flagged.add(("pt_share", n))
                warnings.append(
                    f"s1 pt_share N={n} rep {r.get('rep')}: pt_share_attach "
                    f"moved by {att}, expected about {want}: sharing did "
                    "NOT happen fully")
            if attrib > limit and n > 1:
                flagged.add(("pt_share", n))
                warnings.append(
                    f"s1 pt_share N={n} rep {r.get('rep')}: PageTables grew "
                    f"{attrib} kB attributable, more than twice the floor "
                    f"({floor_kb(n)} kB): tables were not shared")
        if size_mb >= 1024 and n >= 16:
            for r in sel(scenario="s1", contender="hugetlb", n=n):
                attrib = r["pt_growth_kb"] - (base[n].median if base[n]
                                              else 0)
                if attrib > n * pmds * KB_PER_TABLE / 2:
                    flagged.add(("hugetlb", n))
                    warnings.append(
                        f"s1 hugetlb N={n} rep {r.get('rep')}: PageTables "
                        f"grew {attrib} kB attributable (unshared would be "
                        f"{n * pmds * KB_PER_TABLE} kB): hugetlb PMD "
                        "sharing did NOT happen")
    notes = []
    if sel(scenario="s1", contender="hugetlb") and size_mb < 1024:
        notes.append(f"hugetlb cannot share PMD tables at {size_mb} MiB: "
                     "that needs a mapping that covers a whole 1 GiB-aligned "
                     "range, so each process keeps one PMD table (4 kB).")
    for r in sel(scenario="setup", contender="shmem-thp"):
        if r.get("shmem_huge_kb", 0) < size_mb * 1024 * 0.9:
            warnings.append(
                f"shmem-thp: only {r.get('shmem_huge_kb')} kB of the "
                f"{size_mb} MiB file is in huge pages")

    # ---- 2 and 3 -------------------------------------------------------------
    probe_n = env.get("probe_n", "?")
    for fa in sorted({r.get("fault_around") for r in sel(scenario="s23")
                      if r.get("probe") in ("read", "write")},
                     key=lambda x: -(x or 0)):
        for probe, verb in (("read", "mmap + full read"),
                            ("write", "mmap + full write")):
            kw = dict(scenario="s23", probe=probe, fault_around=fa)
            add("2. attach", f"N-th process {verb}, N={probe_n}, "
                f"fault_around_bytes={fa} (ms, emulated)",
                {c: Cell(vals("total_ms", contender=c, **kw))
                 for c in CONTENDERS})
            add("2. attach", f"N-th process {verb}, N={probe_n}, "
                f"fault_around_bytes={fa}: minor faults",
                {c: Cell(vals("minflt", contender=c, **kw))
                 for c in CONTENDERS})
    add("3. detach", f"munmap of a fully read mapping, N={probe_n} "
        "(ms, emulated)",
        {c: Cell(vals("unmap_ms", scenario="s23", probe="munmap",
                      contender=c)) for c in CONTENDERS})
    add("3. detach", f"exit of a process holding it, N={probe_n} "
        "(ms, emulated)",
        {c: Cell(vals("exit_ms", scenario="s23", probe="exit",
                      contender=c)) for c in CONTENDERS})

    # ---- 4 -------------------------------------------------------------------
    for m, label in (("fork_ms", "fork() (ms, emulated)"),
                     ("child_read_ms", "child full read (ms, emulated)"),
                     ("child_minflt", "child minor faults"),
                     ("total_ms", "fork + child read + exit + wait "
                      "(ms, emulated)")):
        add("4. fork", label, {c: Cell(vals(m, scenario="s4", contender=c))
                               for c in CONTENDERS})

    # ---- 5 -------------------------------------------------------------------
    pf_mb = env5.get("pf_mb", "?")
    for mode, label in (("shared", "page_fault3: own shared file, "
                         "map/write/unmap"),
                        ("misalign", "unaligned MAP_SHARED "
                         "(offset 4 KiB), map/write/unmap"),
                        ("private", "page_fault2: MAP_PRIVATE file, "
                         "map/write/unmap")):
        add("5. regression guard", f"{label}, {pf_mb} MiB, 2 processes "
            f"(pages/s, {unit5})",
            {c: Cell(vals("ops_per_s", scenario="s5", mode=mode,
                          contender=c)) for c in CONTENDERS}, lower=False)
    add("5. regression guard", "stress-ng --mmap 2 --mmap-file "
        f"({env5.get('stress_secs', '?')} s) bogo ops/s "
        f"({unit5})",
        {c: Cell(vals("bogo_ops_per_s", scenario="s5",
                      mode="stress-ng-mmap", contender=c))
         for c in CONTENDERS}, lower=False)
    att = [r.get("attach", 0) for r in sel(scenario="s5", mode="shared",
                                            contender="pt_share")]
    if att and max(att) <= 0:
        notes.append("s5 page_fault3 with vm.pt_share=1 attached no table "
                     "(its mapping was not eligible).")
    elif att:
        notes.append(f"s5 page_fault3 with vm.pt_share=1 went through "
                     f"pt_share: {statistics.median(att):.0f} attachments "
                     "per run (median), each to a table of the process's "
                     "own file (one user per table).")

    # ---- 6 -------------------------------------------------------------------
    for mode, what in (("select", "pgbench -S"),
                       ("connect", "pgbench -S -C")):
        clients = next((r.get("clients") for r in sel(scenario="s6",
                                                       mode=mode)), "?")
        add("6. PostgreSQL", f"{what}, {clients} clients: tps (emulated)",
            {c: Cell(vals("tps", scenario="s6", mode=mode, contender=c))
             for c in CONTENDERS}, lower=False)
        add("6. PostgreSQL", f"{what}, {clients} clients: PageTables "
            "growth half-way through the run (kB)",
            {c: Cell(vals("pt_growth_kb", scenario="s6", mode=mode,
                          contender=c)) for c in CONTENDERS})
        add("6. PostgreSQL", f"{what}, {clients} clients: "
            + ("average" if mode == "connect" else "initial")
            + " connection time (ms, emulated)",
            {c: Cell(vals("conn_ms", scenario="s6", mode=mode,
                          contender=c)) for c in CONTENDERS})

    # ---- 7 -------------------------------------------------------------------
    for r in sel(scenario="s7"):
        try:
            with open(os.path.join(d, r["fio_json"])) as f:
                text = f.read()
            # fio may print notes before the JSON object.
            fj = json.loads(text[text.index("{"):])
            job = fj["jobs"][0]
            r["bw_kib_s"] = job["read"]["bw"]
            r["iops"] = job["read"]["iops"]
        except (OSError, ValueError, KeyError, IndexError) as e:
            errors.append(f"s7 {r.get('contender')}: cannot read "
                          f"{r.get('fio_json')}: {e}")
    jobs = next((r.get("jobs") for r in sel(scenario="s7")), "?")
    fio_mb = next((r.get("size_mb") for r in sel(scenario="s7")), "?")
    add("7. fio", f"mmap randread, {jobs} jobs, {fio_mb} MiB: bandwidth "
        "(MiB/s, emulated)",
        {c: Cell([v / 1024 for v in vals("bw_kib_s", scenario="s7",
                                         contender=c) if v is not None])
         for c in CONTENDERS}, lower=False)
    add("7. fio", f"mmap randread, {jobs} jobs: PageTables growth "
        "half-way through the run (kB)",
        {c: Cell(vals("pt_growth_kb", scenario="s7", contender=c))
         for c in CONTENDERS})

    # ---- 8 -------------------------------------------------------------------
    rmap_mb = env.get("rmap_mb", "?")
    what = {"migrate": "move_pages() of every page to the other node",
            "truncate": "ftruncate() to 0",
            "reclaim": "memory.reclaim of the file (swap on zram)"}
    for n in sorted({r.get("n") for r in sel(scenario="s8")}):
        for op in ("migrate", "truncate", "reclaim"):
            kw = dict(scenario="s8", op=op, n=n)
            label = f"{what[op]}, {rmap_mb} MiB, N={n}"
            add("8. rmap", f"{label} (ms, emulated)",
                {c: Cell(vals("ms", contender=c, **kw)) for c in CONTENDERS})
            add("8. rmap", f"{label}: TLB-shootdown IPIs",
                {c: Cell(vals("tlb_ipis", contender=c, **kw))
                 for c in CONTENDERS})
            add("8. rmap", f"{label}: function-call IPIs",
                {c: Cell(vals("cal_ipis", contender=c, **kw))
                 for c in CONTENDERS})
            add("8. rmap", f"{label}: pages moved, truncated or swapped out",
                {c: Cell(vals("pages", contender=c, **kw))
                 for c in CONTENDERS})
            add("8. rmap", f"{label}: time per page (us, emulated)",
                {c: Cell([r["ms"] * 1000 / r["pages"]
                          for r in sel(contender=c, **kw)
                          if r.get("pages")]) for c in CONTENDERS})
    for r in sel(scenario="s8", contender="pt_share"):
        ent = (r.get("flushes") or 0) + (r.get("batched") or 0)
        if r.get("attaches", 0) <= 0:
            flagged.add(("pt_share", r.get("n")))
            warnings.append(f"s8 pt_share {r.get('op')} N={r.get('n')} rep "
                            f"{r.get('rep')}: no table attached")
        elif ent and r.get("flush_mms", 0) < ent * r.get("n", 1):
            warnings.append(
                f"s8 pt_share {r.get('op')} N={r.get('n')} rep "
                f"{r.get('rep')}: {r.get('flush_mms')} mms flushed for "
                f"{ent} entries, fewer than N per entry")

    # ---- 9 -------------------------------------------------------------------
    cold = dict(scenario="s9", mode="cold")
    add("9. idle tables", f"cold attach: fresh process mmap + full read of "
        f"{size_mb} MiB nobody maps: minor faults",
        {c: Cell(vals("minflt", contender=c, **cold)) for c in CONTENDERS})
    add("9. idle tables", "cold attach: mmap + full read (ms, emulated)",
        {c: Cell(vals("total_ms", contender=c, **cold)) for c in CONTENDERS})
    add("9. idle tables", "cold attach: PageTables kept while nobody maps "
        "the file (kB)",
        {c: Cell(vals("pt_idle_kb", contender=c, **cold))
         for c in CONTENDERS})
    for m in ("reuse", "alloc"):
        add("9. idle tables", f"cold attach: shared tables the fresh "
            f"process {'reused' if m == 'reuse' else 'allocated'}",
            {c: Cell(vals("table_" + m, contender=c, **cold))
             for c in CONTENDERS if c.startswith("pt_share")})
    churn = dict(scenario="s9", mode="churn")
    cn = next((r.get("procs") for r in sel(**churn)), "?")
    cp = next((r.get("percent") for r in sel(**churn)), "?")
    add("9. idle tables", f"churn: {cn} processes one after another, each "
        f"maps {size_mb} MiB, reads {cp}% at random, exits: processes/s "
        "(emulated)",
        {c: Cell(vals("procs_per_s", contender=c, **churn))
         for c in CONTENDERS}, lower=False)
    add("9. idle tables", "churn: minor faults per process",
        {c: Cell(vals("minflt_per_proc", contender=c, **churn))
         for c in CONTENDERS})
    add("9. idle tables", "churn: VmPTE of each process at its end, "
        "attached shared tables included (kB)",
        {c: Cell(vals("vmpte_per_proc_kb", contender=c, **churn))
         for c in CONTENDERS})
    add("9. idle tables", "churn: page tables kept once all exited: idle "
        "tables (kB)",
        {c: Cell([r["idle_tables"] * KB_PER_TABLE
                  for r in sel(contender=c, **churn)
                  if r.get("idle_tables") is not None])
         for c in CONTENDERS if c.startswith("pt_share")})
    shr = dict(scenario="s9", mode="shrink")
    add("9. idle tables", f"shrinker: memory.reclaim of the idle tables of "
        f"{size_mb} MiB, in a memcg that pays for nothing else (ms, "
        "emulated)",
        {c: Cell(vals("reclaim_ms", contender=c, **shr)) for c in CONTENDERS})
    add("9. idle tables", "shrinker: idle tables it freed",
        {c: Cell(vals("tables_shrunk", contender=c, **shr))
         for c in CONTENDERS})
    add("9. idle tables", "shrinker: time per table freed (us, emulated)",
        {c: Cell(vals("us_per_table", contender=c, **shr))
         for c in CONTENDERS if c.startswith("pt_share")})
    for r in sel(contender="pt_share+idle", **cold):
        if r.get("table_alloc", 0) > 0 or r.get("table_reuse", 0) <= 0:
            warnings.append(
                f"s9 pt_share+idle cold rep {r.get('rep')}/{r.get('prep')}: "
                f"{r.get('table_reuse')} tables reused, "
                f"{r.get('table_alloc')} allocated: the idle tables were "
                "NOT reused")
    for r in sel(contender="pt_share+idle", **shr):
        if r.get("tables_shrunk", 0) < r.get("idle_before", 0):
            warnings.append(
                f"s9 pt_share+idle shrink rep {r.get('rep')}: "
                f"memory.reclaim freed {r.get('tables_shrunk')} of "
                f"{r.get('idle_before')} idle tables")

    # ---- output ----------------------------------------------------------------
    present = [c for c in CONTENDERS if any(per.get(c) for _, _, per, _, _
                                            in table)]

    def ratio(per, c):
        if not per.get(c) or not per.get("stock"):
            return None
        s = per["stock"].median
        if s == 0:
            return None
        return per[c].median / s

    g_rel = envs["release"] or envs["release-icount"]
    g_st = envs["stock"] or envs["stock-icount"]
    lines = ["# pt_share benchmark results", ""]
    lines.append(f"- date: {host.get('date', '?')}; repository "
                 f"{host.get('git_rev', '?')}"
                 + (f" (+{host.get('git_dirty')} uncommitted files)"
                    if host.get("git_dirty", "0") != "0" else ""))
    lines.append(f"- machine: {host.get('host_nproc', '?')} CPUs "
                 f"({host.get('host_cpu', '?')}), "
                 f"{int(host.get('host_mem_kb', 0)) // 1048576} GiB; load "
                 f"{host.get('load_at_start', '?')} at start, "
                 f"{host.get('load_at_end', '?')} at end")
    lines.append(f"- accelerator: QEMU {host.get('accel', 'tcg').upper()} "
                 f"({host.get('qemu', '?')}): **times are emulated**, only "
                 "ratios within one run mean anything; memory figures and "
                 "fault counts are exact")
    if env5.get("icount") == "1":
        lines.append("- scenario 5 (regression guard) ran in boots of its "
                     "own under QEMU `-icount shift=0`: guest time counts "
                     "instructions (1 ns each), so its figures are work per "
                     "10^9 instructions and do not move with host load")
    lines.append(f"- guest: {g_rel.get('guest_nproc', '?')} vCPUs, "
                 f"{int(g_rel.get('guest_mem_kb', 0) or 0) // 1024} MiB, "
                 f"{g_rel.get('hugepages', '?')} hugepages reserved")
    if g_rel:
        lines.append(f"- pt_share kernel (contenders stock, pt_share, "
                     f"pt_share+idle, shmem-thp, hugetlb): {g_rel.get('version', '?')}; "
                     f"vm.pt_share knob {g_rel.get('pt_share_knob', '?')}"
                     f" (as booted), image {host.get('image_release', '?')}")
    if g_st:
        lines.append(f"- unpatched kernel (contender unpatched): "
                     f"{g_st.get('version', '?')}; vm.pt_share knob "
                     f"{g_st.get('pt_share_knob', '?')}, image "
                     f"{host.get('image_stock', '?')}")
    else:
        lines.append("- unpatched kernel: not run")
    lines.append(f"- mode: {'QUICK' if env.get('quick') == '1' else 'full'}"
                 f"; file {size_mb} MiB; N = {env.get('ns', '?')}; "
                 f"{env.get('reps', '?')} repetition(s) per cell "
                 f"(scenarios 2-4: {env.get('reps', '?')} x "
                 f"{env.get('probe_reps', '?')} probes); wall time "
                 f"{host.get('wall_s', '?')} s")
    lines.append("")
    lines.append("Contenders: **stock** = pt_share kernel with "
                 "vm.pt_share=0, tmpfs with 4 KiB pages; **pt_share** = "
                 "vm.pt_share=1; **pt_share+idle** = vm.pt_share=1 and "
                 "vm.pt_share_idle=1 (tables outlive their last mapper); "
                 "**shmem-thp** = tmpfs mounted huge=always "
                 "(vm.pt_share=0); **hugetlb** = hugetlbfs file, 2 MiB pages, "
                 "mapped 1 GiB-aligned; **unpatched** = the kernel without "
                 "the pt_share patches (regression guard only). Every "
                 "process opens and maps the file itself after fork.")
    lines.append("")
    if pmd_level:
        floor_text = (
            f"Floor (scenario 1): one set of PTE tables and one PMD table "
            f"per GiB, shared by all N processes (pt_share_pmd_attach moved "
            f"by N x GiBs): (ceil(S / 2 MiB) + floor(S / 1 GiB)) x 4 kB = "
            f"{floor_kb(1)} kB for S = {size_mb} MiB, whatever N; each "
            "process pays a PUD entry in a PUD table it has already. ")
    else:
        floor_text = (
            f"Floor (scenario 1): one set of PTE tables plus, per "
            f"process, the PMD tables a mapping of S bytes needs at "
            f"least: ceil(S / 2 MiB) x 4 kB + N x floor(S / 1 GiB) x "
            f"4 kB = {tables_per_set * 4} kB + N x {pmds * 4} kB for "
            f"S = {size_mb} MiB (a mapping smaller than 1 GiB can fall "
            "inside a PMD table the process already has). ")
    lines.append(floor_text + "Attributable = "
                 "PageTables growth with N processes holding the mapping "
                 "minus the median growth for N processes that map nothing"
                 + (" (baseline: " + ", ".join(
                     f"N={n}: {base[n].text()} kB" for n in ns if base[n])
                    + ")" if any(base.values()) else "") + ".")
    lines.append("")
    goals = []

    def faster(st, pt):
        """stock median / pt_share median, or None without both."""
        return st.median / pt.median if st and pt and pt.median > 0 else None

    if pmd_level and ns:
        n = max(ns)
        st, pt = s1.get(("stock", n)), s1.get(("pt_share", n))
        # The memory goal is set at N = 1,024; the fault goal per GiB.
        x = faster(st, pt)
        if x is not None and n == 1024:
            goals.append((f"page-table memory at N={n}, stock / pt_share "
                          ">= 500", f"{x:.0f}x", x >= 500))
        f = Cell(vals("last_minflt", scenario="s1", contender="pt_share",
                      n=n))
        if f:
            goals.append((f"N-th process's full read of {pmds} GiB at "
                          f"N={n} in <= {4 * pmds} faults", f"{f.median}",
                          f.median <= 4 * pmds))
        for probe, m in (("munmap", "unmap_ms"), ("exit", "exit_ms")):
            kw = dict(scenario="s23", probe=probe)
            x = faster(Cell(vals(m, contender="stock", **kw)),
                       Cell(vals(m, contender="pt_share", **kw)))
            if x is not None:
                goals.append((f"{probe} of a fully read mapping, stock / "
                              "pt_share >= 100 (emulated)", f"{x:.0f}x",
                              x >= 100))
    if goals:
        lines.append("## Goals of the PMD level")
        lines.append("")
        lines += [f"- {g}: {v}, {'met' if ok else '**NOT met**'}"
                  for g, v, ok in goals]
        lines.append("")
    if warnings:
        lines.append("## WARNINGS")
        lines.append("")
        lines += [f"- **WARNING**: {w}" for w in warnings]
        lines.append("")
    if errors:
        lines.append("## Failed runs")
        lines.append("")
        lines += [f"- {e}" for e in errors]
        lines.append("")
    hdr = ["scenario", "measurement"] + present + ["ratio vs stock"]
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "---|" * len(hdr))
    for scen, label, per, note, lower in table:
        cells = [("**WARNING: not shared** " if isinstance(note, tuple) and
                  (c, note[1]) in flagged else "")
                 + (per[c].text() if per.get(c) else "–") for c in present]
        rs = []
        for c in present:
            if c == "stock":
                continue
            x = ratio(per, c)
            if x is not None:
                rs.append(f"{c} {x:.3g}x")
        lines.append("| " + " | ".join([scen, label] + cells
                                        + ["; ".join(rs) or "–"]) + " |")
    lines.append("")
    lines.append("Cells: median (min–max) over the repetitions; ratio = "
                 "contender median / stock median (for times, lower is "
                 "faster; for pages/s, tps and bandwidth, higher is better).")
    for n in notes:
        lines.append("")
        lines.append(f"Note: {n}")
    lines.append("")
    with open(os.path.join(d, "table.md"), "w") as f:
        f.write("\n".join(lines))

    out = {
        "host": host, "guest": envs, "warnings": warnings, "errors": errors,
        "goals": [{"goal": g, "value": v, "met": ok} for g, v, ok in goals],
        "notes": notes,
        "floor_kb": {str(n): floor_kb(n) for n in ns},
        "baseline_pt_growth_kb": {str(n): base[n].as_dict() for n in ns},
        "table": [{"scenario": s, "measurement": label,
                   "lower_is_better": lower,
                   "contenders": {c: per[c].as_dict() for c in per
                                  if per[c]},
                   "ratio_vs_stock": {c: ratio(per, c) for c in per
                                      if c != "stock" and ratio(per, c)
                                      is not None}}
                  for s, label, per, _, lower in table],
        "raw": rows,
    }
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(d, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "measurement", "contender", "median", "min",
                    "max", "count", "ratio_vs_stock"])
        for s, label, per, _, _ in table:
            for c in present:
                if per.get(c):
                    x = ratio(per, c)
                    w.writerow([s, label, c, per[c].median,
                                min(per[c].values), max(per[c].values),
                                len(per[c].values),
                                "" if x is None else f"{x:.4g}"])

    plot_ptmem(d, ns, s1, floor_kb, size_mb, pmd_level)
    print(f"report: {d}/table.md, results.json, results.csv"
          + (", ptmem_vs_n.png" if os.path.exists(
              os.path.join(d, "ptmem_vs_n.png")) else ""))
    return 0


def plot_ptmem(d, ns, s1, floor_kb, size_mb, pmd_level):
    """PageTables attributable vs N, log-log, one line per contender."""
    if not ns or not shutil.which("gnuplot"):
        return
    dat = os.path.join(d, "ptmem_vs_n.dat")
    cols = [c for c in CONTENDERS if any(s1.get((c, n)) for n in ns)]
    with open(dat, "w") as f:
        f.write("# N floor_kB " + " ".join(cols)
                + "  (attributable PageTables, kB; <=1 plotted as 1)\n")
        for n in ns:
            row = [str(n), str(floor_kb(n))]
            for c in cols:
                cell = s1.get((c, n))
                row.append(str(max(cell.median, 1)) if cell else "NaN")
            f.write(" ".join(row) + "\n")
    floor_title = ("floor: one PTE table set + one PMD table per GiB, shared"
                   if pmd_level else
                   "floor: one PTE table set + N x floor(S / 1 GiB) PMD tables")
    plots = [f"'{dat}' using 1:2 with lines dashtype 2 lw 2 lc rgb 'gray40' "
             f"title '{floor_title}'"]
    colors = {"stock": "#d62728", "pt_share": "#1f77b4",
              "shmem-thp": "#2ca02c", "hugetlb": "#9467bd"}
    for i, c in enumerate(cols):
        plots.append(f"'{dat}' using 1:{i + 3} with linespoints lw 2 pt 7 "
                     f"lc rgb '{colors.get(c, 'black')}' title '{c}'")
    script = f"""
set terminal pngcairo size 900,600 noenhanced font 'sans,11'
set output '{os.path.join(d, "ptmem_vs_n.png")}'
set title 'Page-table memory attributable to one {size_mb} MiB MAP_SHARED file, N processes'
set xlabel 'N processes mapping the file (each touches every page)'
set ylabel 'PageTables growth minus baseline (kB; 0 plotted as 1)'
set logscale xy
set xrange [{min(ns) * 0.8}:{max(ns) * 1.3}]
set yrange [0.8:*]
set grid
set key below
set xtics ({", ".join(f"'{n}' {n}" for n in ns)})
plot {", ".join(plots)}
"""
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode:
        print("gnuplot failed: " + r.stderr, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
