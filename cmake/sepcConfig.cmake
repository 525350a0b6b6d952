# find_package(sepc CONFIG PATHS <sepc>/cmake) gives sepc_add_model and sepc::npy.
include("${CMAKE_CURRENT_LIST_DIR}/SepcModel.cmake")
set(sepc_FOUND TRUE)
