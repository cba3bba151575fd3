"""WhatsApp templates for messages sent outside the 24-hour window: their parameters, in the order Meta expects.

Every outbox row that may reach WhatsApp sets `OutMessage.template` with one of these builders, so the body
parameters always match the approved texts in docs/whatsapp-templates.md ({{1}}, {{2}}, ... in this order).
Values are plain, already formatted Indonesian text (dates with `models.fmt.tanggal`, numbers with `angka`).
The WhatsApp sender flattens line breaks, which Meta refuses inside parameters.
"""

from __future__ import annotations

from models.outbound import Template
from models.pemda import PemdaConfig

PARAMS: dict[str, tuple[str, ...]] = {
    "reminder": ("nama penerima", "ringkasan"),
    "warning": ("nama penerima", "ringkasan"),
    "checkin": ("nama penerima", "ringkasan"),
    "letter": ("tahap surat", "nomor surat", "unit"),
    "broadcast": ("isi pengumuman",),
}
"""The parameters of each template kind (keys of `WhatsAppTemplates`), in order."""


def _template(pemda: PemdaConfig, kind: str, *params: str) -> Template:
    expected = PARAMS[kind]
    if len(params) != len(expected):
        raise ValueError(f"template {kind} takes {len(expected)} parameters, got {len(params)}")
    name = getattr(pemda.whatsapp_templates, kind)
    return Template(name=name, params=tuple(" ".join(p.split()) or "-" for p in params))


def reminder(pemda: PemdaConfig, name: str, summary: str) -> Template:
    """sigap_pengingat: a reminder before the deadline ('Pengingat batas waktu — Dinas Kesehatan: e-Katalog')."""
    return _template(pemda, "reminder", name, summary)


def warning(pemda: PemdaConfig, name: str, summary: str) -> Template:
    """sigap_peringatan: the deadline has passed (also the Surat Teguran stages of the sweep)."""
    return _template(pemda, "warning", name, summary)


def checkin(pemda: PemdaConfig, name: str, summary: str) -> Template:
    """sigap_minta_data: the weekly request for a fresh figure, and its follow-up."""
    return _template(pemda, "checkin", name, summary)


def letter(pemda: PemdaConfig, stage: str, number: str, unit: str) -> Template:
    """sigap_surat_teguran: a warning letter was issued ('Surat Teguran I', its number, the unit)."""
    return _template(pemda, "letter", stage, number, unit)


def broadcast(pemda: PemdaConfig, text: str) -> Template:
    """sigap_pengumuman: an admin's announcement (or a system alert) on one line."""
    return _template(pemda, "broadcast", text)
