# @TEST-DOC: The package loads on top of Zeek's default scripts without any message.
# @TEST-EXEC: zeek $PACKAGE %INPUT >output 2>&1
# @TEST-EXEC: test ! -e reporter.log
# @TEST-EXEC: test ! -s output
