"""Episodic stores on graph databases: one Cypher store (:mod:`.cypher`) and a small dialect
per database (:mod:`.dialect`): FalkorDB (:mod:`.falkordb`) and Neo4j 5 (:mod:`.neo4j`).

The drivers are imported only by the module of their database, so importing this package
needs neither.
"""
