"""Reading untrusted inventory documents field by field, with errors naming file and field."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from classifier.errors import InventoryError
from classifier.k8s.model import IPNetwork


class Fields:
    """Typed accessors over one file's documents; every failure names the file and field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, where: str, what: str) -> InventoryError:
        """Field path + problem → the InventoryError to raise."""
        return InventoryError(f"{self.file}: {where}: {what}")

    def mapping(self, obj: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            raise self.fail(where, f"expected a mapping, got {kind_of(obj)}")
        return obj

    def get_map(self, obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        v = obj.get(key)
        if v is None:
            return {}
        return self.mapping(v, f"{where}.{key}")

    def get_list(self, obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
        v = obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(f"{where}.{key}", f"expected a list, got {kind_of(v)}")
        return v

    def get_str(self, obj: Mapping[str, Any], key: str, where: str) -> str | None:
        v = obj.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise self.fail(f"{where}.{key}", f"expected a string, got {kind_of(v)}")
        return v

    def ip(self, v: Any, where: str) -> str:
        if not isinstance(v, str):
            raise self.fail(where, f"expected an IP address, got {kind_of(v)}")
        try:
            return str(ipaddress.ip_address(v.strip()))
        except ValueError:
            raise self.fail(where, f"not an IP address: {v!r}") from None

    def cidr(self, v: Any, where: str) -> IPNetwork:
        if not isinstance(v, str):
            raise self.fail(where, f"expected a CIDR, got {kind_of(v)}")
        try:
            return ipaddress.ip_network(v.strip(), strict=False)
        except ValueError:
            raise self.fail(where, f"not a CIDR: {v!r}") from None


def kind_of(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number",
            float: "a number", bool: "a boolean", type(None): "nothing"}.get(type(v), type(v).__name__)



def join(where: str, key: str) -> str:
    """Field path + key → 'where.key' (or 'key' at the top)."""
    return f"{where}.{key}" if where else key
