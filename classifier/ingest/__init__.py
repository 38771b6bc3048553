"""Capture reading: pcap/pcapng records → decoded packets, with accounting."""
