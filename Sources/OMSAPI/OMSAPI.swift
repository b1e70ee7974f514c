// OMSAPI: typed service protocols, method descriptors and clients generated from proto/
// (Sources/OMSAPI/Generated, by `make proto`). Importing OMSAPI also imports the message
// types (OMSProto) and the call model (OMSRPCCore) they are written against.
@_exported import OMSProto
@_exported import OMSRPCCore
