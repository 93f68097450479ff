"""paperlib: the library behind the Executable Papers book.

- ``core``: what every chapter shares (parameters and the chapter contract, devices, seeds, training loops,
  metrics with provenance and the one verdict rule, benchmark records, plotting).
- ``data``: the data kit (digits, the domain-generalization benchmark, scenes, real-folder loaders).
- ``zoo``: small models trained in situ and cached, and the loaders of real pretrained weights.
- one package per chapter: ``miniatures`` and the ten papers (``teddy``, ``hello``, ``datamodel``,
  ``linfusion``, ``video_infinity``, ``dsi``, ``stydesty``, ``mindbridge``, ``mutual_attack``, ``sgformer``).
- ``papers`` (which chapters exist), ``runner`` (executing a chapter or a script in a child process) and
  ``cli`` (the ``paperlib`` command).
- ``book``: building the book and the pages generated from measurements; ``gpu``: checking a GPU machine.
"""
