"""AST -> canonical expression text. ``parse(to_text(e)) == e`` for every AST the parser can build.

Parentheses are emitted only where precedence requires them, so printed rules stay readable
(``explain`` and ``graph`` show expressions this way).
"""

from __future__ import annotations

from ruleengine.dsl import ast

__all__ = ["to_text"]

# Binding strength, loosest first; an operand binding looser than its context gets parentheses.
_IF, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _POSTFIX, _ATOM = range(10)


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _prec(e: ast.Expr) -> int:
    match e:
        case ast.IfElse():
            return _IF
        case ast.Logic(op="or"):
            return _OR
        case ast.Logic(op="and"):
            return _AND
        case ast.Not():
            return _NOT
        case ast.Compare():
            return _CMP
        case ast.Arith(op="+" | "-"):
            return _ADD
        case ast.Arith():
            return _MUL
        case ast.Unary():
            return _NEG
        case ast.Lag():
            return _POSTFIX
        case ast.Number(value=v) if v < 0:
            return _NEG
        case _:
            return _ATOM


def _wrap(e: ast.Expr, minimum: int) -> str:
    text = to_text(e)
    return f"({text})" if _prec(e) < minimum else text


def to_text(e: ast.Expr) -> str:
    """The canonical text of an expression."""
    match e:
        case ast.Number(value=v, unit=None):
            return _number(v)
        case ast.Number(value=v, unit=u):
            return f"{_number(v)}{u}"
        case ast.String(value=v):
            return f'"{v}"' if '"' not in v else f"'{v}'"
        case ast.Bool(value=v):
            return "true" if v else "false"
        case ast.Name(id=i):
            return i
        case ast.Call(func=f, args=args, kwargs=kwargs):
            parts = [to_text(a) for a in args] + [f"{k.name}={to_text(k.value)}" for k in kwargs]
            return f"{f}({', '.join(parts)})"
        case ast.Unary(operand=o):
            return f"-{_wrap(o, _NEG)}"
        case ast.Arith(op=op, left=left, right=right):
            p = _prec(e)
            return f"{_wrap(left, p)} {op} {_wrap(right, p + 1)}"
        case ast.Compare(operands=operands, ops=ops):
            out = _wrap(operands[0], _ADD)
            for op, operand in zip(ops, operands[1:], strict=True):
                out += f" {op} {_wrap(operand, _ADD)}"
            return out
        case ast.Logic(op=op, left=left, right=right):
            p = _prec(e)
            return f"{_wrap(left, p)} {op} {_wrap(right, p + 1)}"
        case ast.Not(operand=o):
            return f"not {_wrap(o, _NOT)}"
        case ast.IfElse(then=then, cond=cond, other=other):
            return f"{_wrap(then, _OR)} if {_wrap(cond, _OR)} else {_wrap(other, _IF)}"
        case ast.Lag(target=t, bars=b):
            return f"{_wrap(t, _POSTFIX)}[{to_text(b)}]"
    raise TypeError(f"not an expression node: {e!r}")
