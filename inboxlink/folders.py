"""Folder roles: from special-use attributes, provider ids, names (English and localized).

Precedence, strongest first: the user's override, what the server states (RFC 6154
special-use / XLIST, or a provider id set by the adapter), then an exact name match
(English or localized), then — for Sent only — a name holding the word "sent". A role found
by name is never given to a folder when another folder already holds it more reliably.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import attrs

from inboxlink.models import Folder, FolderRole, RoleSource

__all__ = [
    "LOCALIZED_NAMES",
    "SPECIAL_USE",
    "assign_roles",
    "find_role",
    "role_from_attributes",
    "role_from_name",
]

#: RFC 6154 attributes (and Gmail's XLIST spellings) → role
SPECIAL_USE: Mapping[str, FolderRole] = {
    "\\sent": FolderRole.SENT,
    "\\drafts": FolderRole.DRAFTS,
    "\\draft": FolderRole.DRAFTS,
    "\\trash": FolderRole.TRASH,
    "\\junk": FolderRole.JUNK,
    "\\spam": FolderRole.JUNK,
    "\\archive": FolderRole.ARCHIVE,
    "\\all": FolderRole.ALL,
    "\\allmail": FolderRole.ALL,
    "\\flagged": FolderRole.FLAGGED,
    "\\starred": FolderRole.FLAGGED,
    "\\important": FolderRole.IMPORTANT,
    "\\inbox": FolderRole.INBOX,
}

# Folder names as mail clients and servers create them, per language. Matching is on the
# last path level, case- and accent-insensitive. Sources: the default folder names of
# Outlook/Exchange, Gmail, Thunderbird and Dovecot/Roundcube in each locale.
LOCALIZED_NAMES: Mapping[FolderRole, Mapping[str, tuple[str, ...]]] = {
    FolderRole.SENT: {
        "en": ("Sent", "Sent Items", "Sent Mail", "Sent Messages"),
        "de": ("Gesendet", "Gesendete Elemente", "Gesendete Objekte", "Gesendete Nachrichten"),
        "fr": ("Envoyés", "Éléments envoyés", "Messages envoyés", "Envoyé"),
        "es": ("Enviados", "Elementos enviados", "Correo enviado", "Mensajes enviados"),
        "it": ("Inviati", "Posta inviata", "Elementi inviati", "Posta in uscita inviata"),
        "pt": ("Enviados", "Itens Enviados", "Itens enviados", "Mensagens enviadas", "E-mails enviados"),
        "nl": ("Verzonden", "Verzonden items", "Verzonden berichten"),
        "pl": ("Wysłane", "Elementy wysłane", "Wiadomości wysłane"),
        "ru": ("Отправленные", "Отправленные элементы", "Отправленные письма"),
        "uk": ("Надіслані", "Надіслані елементи"),
        "ja": ("送信済み", "送信済みアイテム", "送信済みメール", "送信トレイ"),
        "zh": ("已发送", "已发送邮件", "已发送项目", "寄件備份", "已傳送郵件"),
        "ko": ("보낸 편지함", "보낸메일함", "보낸 메일함", "보낸 항목"),
        "sv": ("Skickat", "Skickade", "Skickade objekt", "Skickade meddelanden"),
        "da": ("Sendt", "Sendte elementer", "Sendte e-mails", "Sendt post"),
        "no": ("Sendt", "Sendte elementer", "Sendte e-poster", "Sendt e-post"),
        "fi": ("Lähetetyt", "Lähetetyt kohteet", "Lähetetyt viestit"),
        "cs": ("Odeslané", "Odeslaná pošta", "Odeslané položky"),
        "tr": ("Gönderilmiş Öğeler", "Gönderilenler", "Gönderilmiş Postalar", "Giden Kutusu"),
        "hu": ("Elküldött elemek", "Elküldött levelek", "Elküldött"),
        "el": ("Απεσταλμένα", "Απεσταλμένα μηνύματα"),
        "ro": ("Trimise", "Elemente trimise", "Mesaje trimise"),
    },
    FolderRole.DRAFTS: {
        "en": ("Drafts", "Draft"),
        "de": ("Entwürfe",),
        "fr": ("Brouillons",),
        "es": ("Borradores",),
        "it": ("Bozze",),
        "pt": ("Rascunhos",),
        "nl": ("Concepten",),
        "pl": ("Wersje robocze", "Szkice", "Kopie robocze"),
        "ru": ("Черновики",),
        "ja": ("下書き",),
        "zh": ("草稿", "草稿箱"),
        "ko": ("임시 보관함", "임시보관함"),
        "sv": ("Utkast",),
        "da": ("Kladder",),
        "no": ("Utkast", "Kladder"),
        "fi": ("Luonnokset",),
        "cs": ("Koncepty", "Rozepsané"),
        "tr": ("Taslaklar",),
    },
    FolderRole.TRASH: {
        "en": ("Trash", "Deleted Items", "Deleted Messages", "Bin", "Deleted"),
        "de": ("Papierkorb", "Gelöschte Elemente", "Gelöschte Objekte"),
        "fr": ("Corbeille", "Éléments supprimés"),
        "es": ("Papelera", "Elementos eliminados"),
        "it": ("Cestino", "Posta eliminata", "Elementi eliminati"),
        "pt": ("Lixeira", "Lixo", "Itens Excluídos", "Itens eliminados"),
        "nl": ("Prullenbak", "Verwijderde items"),
        "pl": ("Kosz", "Elementy usunięte"),
        "ru": ("Корзина", "Удаленные", "Удалённые", "Удаленные элементы"),
        "ja": ("ゴミ箱", "削除済みアイテム", "ごみ箱"),
        "zh": ("已删除", "已删除邮件", "垃圾桶", "已刪除郵件"),
        "ko": ("휴지통", "지운 편지함"),
        "sv": ("Papperskorgen", "Borttaget", "Borttagna objekt"),
        "da": ("Papirkurv", "Slettet post", "Slettede elementer"),
        "no": ("Papirkurv", "Slettede elementer"),
        "fi": ("Roskakori", "Poistetut", "Poistetut kohteet"),
        "cs": ("Koš", "Odstraněná pošta", "Odstraněné položky"),
        "tr": ("Çöp Kutusu", "Silinmiş Öğeler"),
    },
    FolderRole.JUNK: {
        "en": ("Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail"),
        "de": ("Spam", "Junk-E-Mail", "Junk"),
        "fr": ("Indésirables", "Courrier indésirable", "Pourriels"),
        "es": ("Correo no deseado", "Spam"),
        "it": ("Posta indesiderata", "Spam"),
        "pt": ("Lixo Eletrônico", "Spam", "Lixo electrónico"),
        "nl": ("Ongewenste e-mail", "Spam"),
        "pl": ("Wiadomości-śmieci", "Spam", "Niechciana poczta"),
        "ru": ("Спам", "Нежелательная почта"),
        "ja": ("迷惑メール",),
        "zh": ("垃圾邮件", "垃圾郵件"),
        "ko": ("스팸메일함", "정크 메일"),
        "sv": ("Skräppost",),
        "da": ("Uønsket e-mail", "Spam"),
        "no": ("Søppelpost", "Useriøs e-post"),
        "fi": ("Roskaposti",),
        "cs": ("Nevyžádaná pošta", "Spam"),
        "tr": ("Gereksiz E-posta", "İstenmeyen"),
    },
    FolderRole.ARCHIVE: {
        "en": ("Archive", "Archives"),
        "de": ("Archiv",),
        "fr": ("Archives",),
        "es": ("Archivo",),
        "it": ("Archivio",),
        "pt": ("Arquivo",),
        "nl": ("Archief",),
        "pl": ("Archiwum",),
        "ru": ("Архив",),
        "ja": ("アーカイブ",),
        "zh": ("归档", "存档", "封存"),
        "ko": ("보관", "보관함"),
        "sv": ("Arkiv",),
        "da": ("Arkiv",),
        "no": ("Arkiv",),
        "fi": ("Arkisto",),
        "cs": ("Archiv",),
        "tr": ("Arşiv",),
    },
}


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


_BY_NAME: dict[str, FolderRole] = {
    _fold(name): role
    for role, languages in LOCALIZED_NAMES.items()
    for names in languages.values()
    for name in names
}
_BY_NAME[_fold("INBOX")] = FolderRole.INBOX


def role_from_attributes(attributes: Iterable[str]) -> FolderRole | None:
    """The role an RFC 6154 / XLIST attribute states (``\\Sent`` …), if any."""
    for attribute in attributes:
        role = SPECIAL_USE.get(attribute.lower())
        if role is not None:
            return role
    return None


def role_from_name(path: str, delimiter: str | None = "/") -> FolderRole | None:
    """The role a folder name suggests, in any of the languages in `LOCALIZED_NAMES`."""
    leaf = path.rsplit(delimiter, 1)[-1] if delimiter else path
    for candidate in (leaf, path):
        role = _BY_NAME.get(_fold(candidate))
        if role is not None:
            return role
    return None


# "sent" as a word of its own: "Old sent mail", "INBOX.Sent-2024", "sent_items" — never
# the letters inside "Presentations" or "Consent forms".
_SENT_WORD = re.compile(r"(?<![^\W_])sent(?![^\W_])")


def _contains_sent(folder: Folder) -> bool:
    return _SENT_WORD.search(folder.name.casefold()) is not None


def _name_role(folder: Folder) -> FolderRole | None:
    return role_from_name(folder.path) or role_from_name(folder.name, None)


def assign_roles(
    folders: Iterable[Folder], overrides: Mapping[FolderRole, str] | None = None
) -> list[Folder]:
    """Give every folder its role and provenance.

    Roles the provider stated are kept; the user's overrides win over everything. Each role
    still missing goes to an exact (English or localized) name match; for Sent only, when
    no folder has a known Sent name, to the first folder with "sent" as a word in its name
    (DESIGN §1: a well-known name beats a folder that merely contains the letters). A name
    match never takes a role already held, and never goes to a folder that is not the
    user's own (``Folder.personal`` False: another user's or a shared namespace).
    """
    result = list(folders)
    overrides = dict(overrides or {})

    for role, ref in overrides.items():
        for i, folder in enumerate(result):
            if ref in (folder.id, folder.path) or ref.casefold() == folder.path.casefold():
                result = [
                    attrs.evolve(f, role=None, role_source=None)
                    if f.role is role and j != i else f
                    for j, f in enumerate(result)
                ]
                result[i] = attrs.evolve(folder, role=role, role_source=RoleSource.OVERRIDE)
                break

    taken = {f.role for f in result if f.role is not None}
    for i, folder in enumerate(result):
        if folder.role is not None or not folder.personal:
            continue
        found = _name_role(folder)
        if found is not None and found not in taken:
            result[i] = attrs.evolve(folder, role=found, role_source=RoleSource.NAME)
            taken.add(found)
    if FolderRole.SENT not in taken:
        for i, folder in enumerate(result):
            if folder.role is None and folder.personal and _contains_sent(folder):
                result[i] = attrs.evolve(folder, role=FolderRole.SENT, role_source=RoleSource.NAME)
                break
    return result


_SOURCE_RANK = {RoleSource.OVERRIDE: 0, RoleSource.SPECIAL_USE: 1, RoleSource.PROVIDER: 1,
                RoleSource.NAME: 2}


def find_role(folders: Iterable[Folder], role: FolderRole) -> Folder | None:
    """The folder holding ``role``, the most reliable provenance first."""
    candidates = [f for f in folders if f.role is role]
    if not candidates:
        return None
    return min(candidates, key=lambda f: _SOURCE_RANK.get(f.role_source or RoleSource.NAME, 3))
