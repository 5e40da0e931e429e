"""Type stubs of csoftmax/_config.py."""
from typing import Any, TextIO

ISA_VARIABLE: str

def config() -> dict[str, Any]: ...
def show_config(file: TextIO | None = None) -> None: ...
