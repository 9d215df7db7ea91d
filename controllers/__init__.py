"""Search strategies behind one ask/tell interface."""
