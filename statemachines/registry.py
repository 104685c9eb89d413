"""The registry of case types: every version of every definition in a directory, checked.

``CaseTypeRegistry.load_default()`` reads ``statemachines/definitions/*.yaml``. A broken
definition refuses to load: :class:`~statemachines.definition.DefinitionInvalid` lists every
error of every file, each naming the file and the path inside it. All versions are kept, so a
case opened under version 1 keeps running under version 1 after version 2 is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .check import FormCatalogue, check_paths, load_yaml, loadable_files, parse_and_check
from .definition import DefinitionInvalid
from .engine import CaseType

__all__ = ["LOCAL_SUBDIR", "CaseTypeRegistry", "default_definitions_dir", "local_case_types_dir"]

#: A deployment's definitions directory (``CASEFLOW_DEFINITIONS_DIR``) keeps its case types here.
LOCAL_SUBDIR = "case_types"


def default_definitions_dir() -> Path:
    """The definitions shipped with the package."""
    return Path(__file__).resolve().parent / "definitions"


def local_case_types_dir(definitions_dir: Path | str | None) -> Path | None:
    """The case_types folder of a deployment's definitions directory (None without one, or without case types)."""
    if definitions_dir is None:
        return None
    root = Path(definitions_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no definitions directory at {root}")
    folder = root / LOCAL_SUBDIR
    return folder if folder.is_dir() else None


class CaseTypeRegistry:
    """Every (case_type, version) loaded from definition files."""

    def __init__(self, case_types: Iterable[CaseType] = ()) -> None:
        self._by_type: dict[str, dict[int, CaseType]] = {}
        for ct in case_types:
            versions = self._by_type.setdefault(ct.case_type, {})
            if ct.version in versions:
                raise ValueError(f"{ct.case_type} version {ct.version} is registered twice")
            versions[ct.version] = ct

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load_dir(cls, path: Path | str, catalogue: FormCatalogue | None = None, *,
                 local: Path | str | None = None) -> CaseTypeRegistry:
        """Load and check every ``*.yaml`` in ``path`` (and in ``local``, a deployment's own case
        types, which may add case types and versions but not redefine one); raise
        ``DefinitionInvalid`` with all errors.

        With ``catalogue`` (``{form_id: field paths}``) form ids and field names are checked too.
        """
        directory = Path(path)
        for folder in (directory, local):
            if folder is not None and not Path(folder).is_dir():
                raise FileNotFoundError(f"no definitions directory at {folder}")
        errors = check_paths([directory], catalogue, local=local)
        if errors:
            raise DefinitionInvalid(errors)
        case_types: list[CaseType] = []
        for file in loadable_files([directory], local):
            raw, _ = load_yaml(file)
            defn, _ = parse_and_check(raw, file.name if file.parent == directory else str(file), catalogue)
            assert defn is not None  # checked above
            case_types.append(CaseType(defn))
        return cls(case_types)

    @classmethod
    def load_default(cls, catalogue: FormCatalogue | None = None) -> CaseTypeRegistry:
        """The definitions shipped in ``statemachines/definitions``."""
        return cls.load_dir(default_definitions_dir(), catalogue)

    @classmethod
    def load_deployment(cls, definitions_dir: Path | str | None = None,
                        catalogue: FormCatalogue | None = None) -> CaseTypeRegistry:
        """The shipped case types plus those of a deployment's definitions directory (``<dir>/case_types``)."""
        return cls.load_dir(default_definitions_dir(), catalogue, local=local_case_types_dir(definitions_dir))

    # -- lookup ------------------------------------------------------------------------------
    def get(self, case_type: str, version: int | None = None) -> CaseType:
        """A case type (its latest version when ``version`` is None); KeyError if unknown."""
        versions = self._by_type.get(case_type)
        if not versions:
            raise KeyError(case_type)
        if version is None:
            return versions[max(versions)]
        try:
            return versions[int(version)]
        except (KeyError, ValueError, TypeError):
            raise KeyError(f"{case_type} v{version}") from None

    def case_types(self) -> list[CaseType]:
        """The latest version of each case type, sorted by case type."""
        return [self.get(name) for name in sorted(self._by_type)]

    def versions(self, case_type: str) -> list[int]:
        """The versions of a case type, ascending; KeyError if unknown."""
        if case_type not in self._by_type:
            raise KeyError(case_type)
        return sorted(self._by_type[case_type])

    def all(self) -> list[CaseType]:
        """Every version of every case type."""
        return [self._by_type[n][v] for n in sorted(self._by_type) for v in sorted(self._by_type[n])]

    def __contains__(self, case_type: object) -> bool:
        return case_type in self._by_type

    def __len__(self) -> int:
        return len(self._by_type)
