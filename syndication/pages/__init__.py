"""Landing pages: vendor-authored pages, co-branded per partner (or generic), whose form
turns visitors into leads."""
