
// The `sep` dialect: one op per model.json layer kind, defined with IRDL so the Python
// bindings load, parse, print and verify it without a C++ build. Shape rules that IRDL
// cannot express (kernel vs. input channels, output sizes) are checked by
// sepc.passes.verify_sep, which runs after every graph pass.
irdl.dialect @sep {
  // A 2-D convolution, NHWC input, HWCF kernel.
  irdl.operation @conv2d {
    %input = irdl.base "!builtin.tensor"
    %kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, kernel: %kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // A 1-D convolution, NWC input, WCF kernel.
  irdl.operation @conv1d {
    %input = irdl.base "!builtin.tensor"
    %kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, kernel: %kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // Depthwise 2-D convolution; kernel HWCM, output channel c*M+m.
  irdl.operation @depthwise_conv2d {
    %input = irdl.base "!builtin.tensor"
    %kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, kernel: %kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // Depthwise 1-D convolution; kernel WCM.
  irdl.operation @depthwise_conv1d {
    %input = irdl.base "!builtin.tensor"
    %kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, kernel: %kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // Depthwise then 1x1 pointwise 2-D convolution.
  irdl.operation @separable_conv2d {
    %input = irdl.base "!builtin.tensor"
    %depthwise_kernel = irdl.base "!builtin.tensor"
    %pointwise_kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, depthwise_kernel: %depthwise_kernel, pointwise_kernel: %pointwise_kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // Depthwise then pointwise 1-D convolution.
  irdl.operation @separable_conv1d {
    %input = irdl.base "!builtin.tensor"
    %depthwise_kernel = irdl.base "!builtin.tensor"
    %pointwise_kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %strides = irdl.base "#builtin.dense_array"
    %dilations = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, depthwise_kernel: %depthwise_kernel, pointwise_kernel: %pointwise_kernel, bias: %bias)
    irdl.attributes {"strides" = %strides, "dilations" = %dilations, "padding" = %padding, "activation" = %activation}
    irdl.results(output: %output)
  }
  // Inference batch normalisation over the last axis.
  irdl.operation @batch_norm {
    %input = irdl.base "!builtin.tensor"
    %gamma = irdl.base "!builtin.tensor"
    %beta = irdl.base "!builtin.tensor"
    %moving_mean = irdl.base "!builtin.tensor"
    %moving_variance = irdl.base "!builtin.tensor"
    %activation = irdl.base "#builtin.string"
    %epsilon = irdl.base "#builtin.float"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, gamma: %gamma, beta: %beta, moving_mean: %moving_mean, moving_variance: %moving_variance)
    irdl.attributes {"activation" = %activation, "epsilon" = %epsilon}
    irdl.results(output: %output)
  }
  // An elementwise activation (or softmax over the last axis).
  irdl.operation @activation {
    %input = irdl.base "!builtin.tensor"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.attributes {"activation" = %activation}
    irdl.results(output: %output)
  }
  // A fully connected layer on the last axis.
  irdl.operation @dense {
    %input = irdl.base "!builtin.tensor"
    %kernel = irdl.base "!builtin.tensor"
    %bias = irdl.base "!builtin.tensor"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input, kernel: %kernel, bias: %bias)
    irdl.attributes {"activation" = %activation}
    irdl.results(output: %output)
  }
  // Zero padding of the two spatial dimensions.
  irdl.operation @zero_padding2d {
    %input = irdl.base "!builtin.tensor"
    %padding = irdl.base "#builtin.dense_array"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.attributes {"padding" = %padding}
    irdl.results(output: %output)
  }
  // Max pooling; padded positions are never picked.
  irdl.operation @max_pool2d {
    %input = irdl.base "!builtin.tensor"
    %pool_size = irdl.base "#builtin.dense_array"
    %strides = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.attributes {"pool_size" = %pool_size, "strides" = %strides, "padding" = %padding}
    irdl.results(output: %output)
  }
  // Average pooling over the real (unpadded) elements of each window.
  irdl.operation @avg_pool2d {
    %input = irdl.base "!builtin.tensor"
    %pool_size = irdl.base "#builtin.dense_array"
    %strides = irdl.base "#builtin.dense_array"
    %padding = irdl.base "#builtin.dense_array"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.attributes {"pool_size" = %pool_size, "strides" = %strides, "padding" = %padding}
    irdl.results(output: %output)
  }
  // Mean over all spatial dimensions (1-D or 2-D).
  irdl.operation @global_avg_pool {
    %input = irdl.base "!builtin.tensor"
    %keepdims = irdl.base "#builtin.integer"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.attributes {"keepdims" = %keepdims}
    irdl.results(output: %output)
  }
  // Reshape that keeps the batch dimension.
  irdl.operation @reshape {
    %input = irdl.base "!builtin.tensor"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(input: %input)
    irdl.results(output: %output)
  }
  // Elementwise sum of two or more tensors of one shape, then an activation.
  irdl.operation @add {
    %inputs = irdl.base "!builtin.tensor"
    %activation = irdl.base "#builtin.string"
    %output = irdl.base "!builtin.tensor"
    irdl.operands(inputs: variadic %inputs)
    irdl.attributes {"activation" = %activation}
    irdl.results(output: %output)
  }
}
