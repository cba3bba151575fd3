"""WhatsApp templates for messages sent outside the 24-hour window: their parameters, in the order Meta expects.

Every outbox row that may reach WhatsApp sets `OutMessage.template` with one of these builders, so the body
parameters always match the approved texts in docs/whatsapp-templates.md ({{1}}, {{2}}, ... in this order).
Values are plain, already formatted Indonesian text (dates with `handlers.fmt.tanggal`, numbers with `angka`).
The WhatsApp sender flattens line breaks, which Meta refuses inside parameters.
"""

from __future__ import annotations

from models.outbound import Template
from models.pemda import PemdaConfig

PARAMS: dict[str, tuple[str, ...]] = {
    "reminder": ("nama penerima", "program", "unit", "batas waktu", "capaian saat ini"),
    "warning": ("nama penerima", "program", "unit", "batas waktu", "keterangan keterlambatan"),
    "letter": ("nama penerima", "nomor surat", "unit", "program", "batas waktu baru"),
    "checkin": ("nama penerima", "program", "unit", "data terakhir"),
    "broadcast": ("nama penerima", "pengirim", "isi pengumuman"),
}
"""The parameters of each template kind (keys of `WhatsAppTemplates`), in order."""


def _template(pemda: PemdaConfig, kind: str, *params: str) -> Template:
    expected = PARAMS[kind]
    if len(params) != len(expected):
        raise ValueError(f"template {kind} takes {len(expected)} parameters, got {len(params)}")
    name = getattr(pemda.whatsapp_templates, kind)
    return Template(name=name, params=tuple(p.strip() or "-" for p in params))


def reminder(pemda: PemdaConfig, name: str, program: str, unit: str, deadline: str, standing: str) -> Template:
    """sigap_pengingat: a reminder before the deadline."""
    return _template(pemda, "reminder", name, program, unit, deadline, standing)


def warning(pemda: PemdaConfig, name: str, program: str, unit: str, deadline: str, lateness: str) -> Template:
    """sigap_peringatan: a warning once the deadline has passed or the unit is far behind."""
    return _template(pemda, "warning", name, program, unit, deadline, lateness)


def letter(pemda: PemdaConfig, name: str, number: str, unit: str, program: str, new_deadline: str) -> Template:
    """sigap_surat_teguran: a warning letter was issued (the PDF follows once the person answers)."""
    return _template(pemda, "letter", name, number, unit, program, new_deadline)


def checkin(pemda: PemdaConfig, name: str, program: str, unit: str, last_data: str) -> Template:
    """sigap_minta_data: the weekly request for a fresh figure."""
    return _template(pemda, "checkin", name, program, unit, last_data)


def broadcast(pemda: PemdaConfig, name: str, sender: str, text: str) -> Template:
    """sigap_pengumuman: an admin's announcement."""
    return _template(pemda, "broadcast", name, sender, text)
