#!/nonexistent/interpreter
exit 0
