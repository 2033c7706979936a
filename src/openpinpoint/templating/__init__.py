"""Pinpoint's Handlebars dialect: compiled to a tree of plain nodes, rendered by walking it.

No HTTP, no SQL, no code generation from template text (see docs/templates.md for why this
is not a third-party Handlebars library).
"""

from openpinpoint.templating.render import CompiledTemplate, compile_template
from openpinpoint.templating.syntax import TemplateSyntaxError
from openpinpoint.templating.values import MAX_OUTPUT, RenderTooLarge

__all__ = [
    "MAX_OUTPUT",
    "CompiledTemplate",
    "RenderTooLarge",
    "TemplateSyntaxError",
    "compile_template",
]
