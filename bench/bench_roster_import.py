"""Benchmark: a district's OneRoster zip (BENCH_ROSTER_STUDENTS students, default 5,000, in 25-student classes,
each with a guardian) previewed and imported, and the memory the reading takes.

- "preview": ``schools.roster.roster_plan`` on the zip (the page's preview), budget 5 s.
- "import": the Celery job's body, ``roster_import_run``, for a fresh school each time (accounts, memberships,
  school consent and its ledger entries, guardians and their emails into the outbox, classes, enrolments), in
  batches of ``schools.roster.IMPORT_BATCH``, budget 120 s, 1 run per pair.
- the note: the peak of Python's allocations while reading zips of 1,000 and of BENCH_ROSTER_STUDENTS students
  (tracemalloc) next to the CSVs' unpacked size. The CSVs are streamed row by row: the peak follows what is kept
  per person (a few hundred bytes), never the files' size; the ratio per student stays flat as the file grows.
Everything created is deleted at the end.
"""

from __future__ import annotations

import sys
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from accounts.demo import ensure_user  # noqa: E402
from accounts.models import User  # noqa: E402
from mindomo.outbox.models import Delivery  # noqa: E402
from schools import oneroster, roster  # noqa: E402
from schools.models import RosterImport, School, SchoolMembership  # noqa: E402
from schools.oneroster_sample import SampleClass, SampleEnrollment, SampleUser, write_zip  # noqa: E402

STUDENTS = env_int("BENCH_ROSTER_STUDENTS", 5_000)
PREFIX = "bench-roster-"


def _write(path: Path, students: int) -> None:
    classes = max(1, students // 25)

    def users() -> Iterator[SampleUser]:
        for i in range(students):
            yield SampleUser(f"s{i}", "student", f"Élève{i}", f"Dupré{i}", username=f"{PREFIX}{i}", agents=(f"g{i}",))
            yield SampleUser(f"g{i}", "guardian", "Parent", f"Dupré{i}", email=f"{PREFIX}{i}@family.example")

    write_zip(
        str(path),
        users=users(),
        classes=(SampleClass(f"c{k}", f"Class {k}") for k in range(classes)),
        enrollments=(SampleEnrollment(f"e{i}", f"c{i % classes}", f"s{i}") for i in range(students)),
    )


def _peak(path: Path) -> int:
    tracemalloc.start()
    oneroster.read(str(path))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _unpacked(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(i.file_size for i in archive.infolist())


def cleanup() -> None:
    User.objects.filter(username__startswith=PREFIX).delete()
    School.objects.filter(name__startswith=PREFIX).delete()
    # the parents' emails the imports queued (their task messages find them gone)
    Delivery.objects.filter(to_email__startswith=PREFIX).delete()


def jobs() -> Iterator[Job]:
    cleanup()
    folder = Path(tempfile.mkdtemp(prefix="bench-roster"))
    small, big = folder / "small.zip", folder / "big.zip"
    print(f"writing OneRoster zips of 1,000 and {STUDENTS:,} students ...", file=sys.stderr, flush=True)
    _write(small, 1_000)
    _write(big, STUDENTS)
    peaks = {n: (_peak(p), _unpacked(p)) for n, p in ((1_000, small), (STUDENTS, big))}
    note = "; ".join(
        f"{n:,} students: peak {peak / 2**20:.1f} MiB ({peak // n} B/student) for {size / 2**20:.1f} MiB of CSV"
        for n, (peak, size) in peaks.items()
    )
    print(f"  memory: {note}", file=sys.stderr, flush=True)
    admin = ensure_user(username=f"{PREFIX}admin", email="", first_name="Bench", last_name="Admin", country="US")
    counter = iter(range(1_000_000))
    state: dict[str, int] = {}

    def fresh_school() -> School:
        school = School.objects.create(name=f"{PREFIX}{next(counter)}", country="US", contact_email="b@x.example")
        SchoolMembership.objects.create(school=school, user=admin, role=SchoolMembership.Role.ADMIN)
        return school

    def prepare_import() -> None:
        User.objects.filter(username__startswith=PREFIX).exclude(pk=admin.pk).delete()
        school = fresh_school()
        data = big.read_bytes()
        roster_import = roster.roster_preview(actor=admin, school=school, upload=[data], size=len(data))
        roster.roster_import_start(actor=admin, roster_import=roster_import, confirm_erase=False, queue=False)
        state["import"] = roster_import.pk

    def run_import() -> None:
        assert roster.roster_import_run(import_id=state["import"]).state == RosterImport.State.DONE

    preview_school = fresh_school()
    try:
        yield Job(
            f"OneRoster preview, {STUDENTS:,} students",
            lambda: roster.roster_plan(school=preview_school, source=str(big), actor=admin),
            budget_seconds=5.0,
            goal=1.0,
            note=note,
        )
        yield Job(
            f"OneRoster import job, {STUDENTS:,} students",
            run_import,
            prepare_project=prepare_import,
            budget_seconds=120.0,
            goal=1.0,
            pairs=1,
        )
    finally:
        cleanup()


if __name__ == "__main__":
    main(jobs)
