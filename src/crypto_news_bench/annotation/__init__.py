"""Growing the real pages' labels with Label Studio: export the units that lack a label as Label
Studio tasks (pre-annotated by a model, least confident first), and import Label Studio's JSON
export back into ``data/annotations/``, validated, with two annotators' agreement.

    pool.py          which units of the real pages a task still needs, with their context
    label_studio.py  the labelling interface and the JSON formats (tasks out, export in)
    prelabel.py      pre-annotations from a task's champion (or any model reference)
    exporter.py      `cnbench annotate export`: the tasks file
    importer.py      validation of an export against the corpus, then the labels written
    commands.py      the `cnbench annotate` subcommand
"""
