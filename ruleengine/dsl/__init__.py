"""The rule language: grammar, AST, parser, printer, compiler."""
