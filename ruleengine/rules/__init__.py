"""Rule files: YAML with positions, schema, compilation, decisions."""
