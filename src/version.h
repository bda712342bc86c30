#ifndef VERSION_H
#define VERSION_H
#define FCGI_BRIDGE_VERSION	"0.1.0"
#endif
