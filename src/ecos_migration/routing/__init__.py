"""Routing of SRV 6.23 CoS Update Security Credentials requests during parallel running.

A request is read safely (``duis``), validated against the DUIS XML schema (``schema``), its
XML Signature verified against a trust store of organisation certificates (``signature``,
``trust``), its originator checked against the parties file (``parties``), and then routed
by one pure function (``decision``). ``router`` joins these steps for the command line and
the HTTP service.
"""
