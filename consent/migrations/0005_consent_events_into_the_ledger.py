"""The consent ledger is the one audit trail of consent events: ``ConsentEvent`` goes.

Since the ledger exists (0003) every consent event was written to both, in one transaction. Events older than the
ledger's first row are in ConsentEvent only: they are appended to the ledger first (one row per event counted,
chained like any other, pseudonymous: a child still in the database gets its pseudonym, anyone else a fresh one),
then the table is dropped. Going back re-creates the empty table (the ledger keeps the rows).
"""

import datetime
import hashlib
import json
import secrets

from django.db import migrations

GENESIS = "0" * 64
LOCK_KEY = 0x6C656467
FIELDS = ("seq", "at", "kind", "subject", "actor", "method", "rule", "rule_version", "policy_version", "detail")
# ConsentEvent kind -> (ledger kind, method)
KINDS = {
    "requested": ("requested", "email_plus"),
    "approved": ("granted", "email_plus"),
    "refused": ("refused", "email_plus"),
    "expired": ("expired", "email_plus"),
    "school": ("granted", "school"),
}


def _hash(values, prev_hash):  # type: ignore[no-untyped-def]
    """consent.ledger._hash as of this migration (frozen here: the chain must verify with the code of its day)."""
    content = dict(zip(FIELDS, values, strict=True))
    content["at"] = content["at"].astimezone(datetime.UTC).isoformat(timespec="microseconds")
    content["prev"] = prev_hash
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


def carry_into_the_ledger(apps, schema_editor):  # type: ignore[no-untyped-def]
    try:
        ConsentEvent = apps.get_model("consent", "ConsentEvent")
    except LookupError:  # run again with today's models (tests replay data migrations): nothing is left to carry
        return
    LedgerEntry = apps.get_model("consent", "LedgerEntry")
    LedgerPseudonym = apps.get_model("consent", "LedgerPseudonym")
    first = LedgerEntry.objects.order_by("seq").values_list("at", flat=True).first()
    older = ConsentEvent.objects.select_related("rule").order_by("created_at", "pk")
    if first is not None:
        older = older.filter(created_at__lt=first)  # later ones were written to the ledger as well
    if not older.exists():
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, previous = last if last else (0, GENESIS)
    rows = []
    for event in older.iterator():
        kind, method = KINDS[event.kind]
        subject = None
        if event.child_id is not None:
            mapping = LedgerPseudonym.objects.filter(child_id=event.child_id, role="child").first()
            if mapping is None:
                mapping = LedgerPseudonym.objects.create(
                    child_id=event.child_id, role="child", pseudonym=secrets.token_hex(16)
                )
            subject = mapping.pseudonym
        rule = event.rule
        for _ in range(event.count):
            seq += 1
            row = LedgerEntry(
                seq=seq,
                at=event.created_at,
                kind=kind,
                subject=subject or secrets.token_hex(16),
                actor="system",
                method=method,
                rule=(rule.subdivision or rule.country or "*") if rule is not None else "",
                rule_version=rule.version if rule is not None else None,
                policy_version="",  # not recorded by ConsentEvent
                detail={"carried_from": "consent event"},
                prev_hash=previous,
            )
            row.hash = _hash(tuple(getattr(row, name) for name in FIELDS), previous)
            previous = row.hash
            rows.append(row)
    LedgerEntry.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("consent", "0004_disclosure_consent")]

    operations = [
        migrations.RunPython(carry_into_the_ledger, migrations.RunPython.noop),
        migrations.DeleteModel(name="ConsentEvent"),
    ]
