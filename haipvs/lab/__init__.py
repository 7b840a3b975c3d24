"""`haipvs lab`: the seed tutorials' LVS lab (a client, two directors, two real servers) in
network namespaces on this machine, with real haipvs daemons. See haipvs/lab/lab.py."""
